'use strict'
// Issue 3 "Bad input gets a clear answer": what the ORIGINAL 2.4.0 (and a raw `ws` client for
// inputs 2.4.0 cannot produce) sees for limits and invalid requests (protocol.md §2.4, §6.9,
// §6.11). Every case must leave the server serving other connections.
const { test } = require('node:test')
const assert = require('node:assert/strict')
const WebSocket = require('ws')

const { getJson } = require('./helpers/server')
const { closeOne } = require('./helpers/original')
const { originalSuite } = require('./helpers/original-suite')

const APP = 'limitsApp'
const T = { timeout: 20000 }
const suite = originalSuite({ appId: APP })
const { newCtx } = suite

// A 2.4.0 client that is expected to be refused: resolves with its trace once the socket closed.
async function refused (ctx, name, options) {
  const client = suite.rt(Object.assign({ appId: APP, clientId: ctx.id(name) }, options))
  ctx.clients.push(client)
  ctx.attach(name, client)
  await ctx.waitCount(name, 'close', 1)
  await closeOne(client) // 2.4.0 would reconnect 5 s later
  return ctx.trace.of(name).map((e) => [e.kind, e.data])
}

async function raw () {
  const route = await getJson(`${suite.srv.routerUrl}/v1/route?appId=${APP}`)
  const ws = new WebSocket(route.json.server)
  const frames = []
  let closed = null
  ws.on('message', (d) => frames.push(JSON.parse(String(d))))
  const closedP = new Promise((resolve) => ws.on('close', (code) => { closed = code; resolve(code) }))
  await new Promise((resolve, reject) => {
    ws.once('open', resolve)
    ws.once('error', reject)
  })
  return { ws, frames, closedP, get closed () { return closed } }
}

async function until (pred, ms = 3000) {
  const deadline = Date.now() + ms
  while (!pred() && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 10))
  return pred()
}

async function stillServing (ctx) {
  const probe = await ctx.open('probe')
  const online = await ctx.call('probe', 'ping', (cb) => probe.ping(ctx.id('probe'), cb))
  assert.deepEqual(online, [ctx.id('probe')], 'the server still serves other connections')
}

test('unknown appId: router refuses with a JSON body (2.4.0: `error`, no crash); the socket closes with 4100', T, async (t) => {
  const ctx = newCtx(t)
  // Through the router, as 2.4.0 does it: a non-2xx reply makes 2.4.0 emit `error` with no
  // payload, and nothing else (§1.2). The body must be JSON or 2.4.0 throws in JSON.parse.
  const client = suite.rt({ appId: 'noSuchApp', clientId: ctx.id('x') })
  ctx.clients.push(client)
  ctx.attach('x', client)
  await ctx.waitCount('x', 'error', 1)
  await ctx.settle(300)
  assert.deepEqual(ctx.trace.of('x').map((e) => [e.kind, e.data]), [['error', '<undefined>']])
  // Straight to the WebSocket (as leanrt's `server` option does): close 4100.
  const r = await raw()
  r.ws.send(JSON.stringify({ cmd: 'session', op: 'open', appId: 'noSuchApp', ua: 'js/2.4.0', i: 2016, peerId: ctx.id('y') }))
  const code = await Promise.race([r.closedP, ctx.sleep(3000).then(() => 'no close')])
  assert.equal(code, 4100)
  assert.ok(!r.frames.some((f) => f.op === 'opened'), 'no session opened')
  await stillServing(ctx)
})

test('clientId over 64 characters -> socket closed with 4103', T, async (t) => {
  const ctx = newCtx(t)
  const trace = await refused(ctx, 'long', { clientId: 'x'.repeat(65) })
  assert.equal(trace.filter(([k]) => k === 'open').length, 0)
  assert.equal(trace.find(([k]) => k === 'close')[1].code, 4103)
  const ok = await ctx.open('sixtyfour', { clientId: 'y'.repeat(64) })
  assert.equal(ok.clientId.length, 64, 'exactly 64 characters is allowed')
  await stillServing(ctx)
})

test('message over 5 KB -> ack with code 4109 to the send callback; not delivered', T, async (t) => {
  const ctx = newCtx(t)
  const alice = await ctx.open('alice')
  await ctx.open('bob')
  const room = await ctx.create('alice', alice, { name: 'Big', members: [ctx.id('bob')] })
  const nack = await ctx.call('alice', 'send big', (cb) => room.send('x'.repeat(5 * 1024 + 1), cb))
  assert.equal(nack.cmd, 'ack')
  assert.equal(nack.code, 4109)
  assert.equal(nack.uid, undefined)
  const ok = await ctx.call('alice', 'send 5 KB', (cb) => room.send('y'.repeat(5 * 1024), cb))
  assert.equal(ok.code, undefined, 'exactly 5 KB is accepted')
  await ctx.waitCount('bob', 'message', 1)
  await ctx.settle(150)
  assert.equal(ctx.count('bob', 'message'), 1)
  assert.equal(ctx.count('alice', 'close'), 0)
})

test('more than 500 members -> error 4304 (error event; no callback)', T, async (t) => {
  const ctx = newCtx(t)
  const alice = await ctx.open('alice')
  const many = Array.from({ length: 500 }, (_, k) => ctx.id(`m${k}`))
  alice.room({ name: 'Full', members: many }, () => ctx.rec('alice', 'start-cb (must not fire)'))
  await ctx.waitCount('alice', 'error', 1)
  const e = ctx.trace.of('alice', 'error')[0].data
  assert.equal(e.cmd, 'error')
  assert.equal(e.code, 4304)
  const ok = await ctx.create('alice', alice, { name: 'Max', members: many.slice(1) })
  const count = await ctx.call('alice', 'count', (cb) => ok.count(cb))
  assert.equal(count, 500, '499 + creator = 500 is allowed')
  ok.add(ctx.id('one-more'), () => ctx.rec('alice', 'add-cb (must not fire)'))
  await ctx.waitCount('alice', 'error', 2)
  assert.equal(ctx.trace.of('alice', 'error')[1].data.code, 4304)
  await ctx.settle(100)
  assert.equal(ctx.count('alice', 'start-cb (must not fire)') + ctx.count('alice', 'add-cb (must not fire)'), 0)
})

test('raw: a command before session open -> 4105 (error frame or close)', T, async (t) => {
  const ctx = newCtx(t)
  const r = await raw()
  r.ws.send(JSON.stringify({ cmd: 'conv', op: 'query', where: {}, i: 7 }))
  await until(() => r.frames.length > 0 || r.closed !== null)
  const f = r.frames[0]
  if (f) {
    assert.equal(f.code, 4105, JSON.stringify(f))
    assert.equal(f.i, 7)
  } else {
    assert.equal(r.closed, 4105)
  }
  r.ws.terminate()
  await stillServing(ctx)
})

test('raw: an oversized WebSocket frame -> close 4109; bad JSON and unknown commands do not kill the server', T, async (t) => {
  const ctx = newCtx(t)
  const r = await raw()
  r.ws.send(JSON.stringify({ cmd: 'session', op: 'open', appId: APP, i: 1, peerId: ctx.id('raw') }))
  await until(() => r.frames.length > 0)
  for (const bad of ['not json', '[]', '"str"', '{"cmd":5}', '{"cmd":"conv","op":"nope","i":2}', '{"cmd":"direct","cid":7,"msg":{},"i":"x"}', '{"cmd":"logs","i":3}']) r.ws.send(bad)
  await ctx.sleep(200)
  for (const f of r.frames) assert.equal(typeof f, 'object', 'every reply is a JSON object')
  assert.ok(!r.frames.some((f) => f.cmd === 'conv' && f.op === 'error'), 'never conv/error')
  r.ws.send('x'.repeat(1024 * 1024))
  const code = await Promise.race([r.closedP, ctx.sleep(3000).then(() => 'no close')])
  assert.equal(code, 4109)
  await stillServing(ctx)
})
