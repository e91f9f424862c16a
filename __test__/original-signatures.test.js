'use strict'
// Issue 3 / protocol.md §6.10 with the ORIGINAL 2.4.0: an app started with a master key
// (`--app ID:KEY`) requires HMAC-SHA1 signatures for session open, conv start, invite and kick,
// which 2.4.0 obtains from its `auth(params, cb)` option. Self-leave is never signed by 2.4.0
// and must still be allowed.
const { test } = require('node:test')
const assert = require('node:assert/strict')
const crypto = require('node:crypto')

const { closeOne } = require('./helpers/original')
const { originalSuite } = require('./helpers/original-suite')

const APP = 'signedApp'
const KEY = 'masterKey-123'
const T = { timeout: 20000 }
const suite = originalSuite({ appId: APP, app: `${APP}:${KEY}` })
const { newCtx } = suite

const hmac = (text, key = KEY) => crypto.createHmac('sha1', key).update(text).digest('hex')
const sorted = (m) => (m || []).slice().sort().join(':')
let nonceCounter = 0
const nonce = () => `n${Date.now().toString(36)}${++nonceCounter}`
const now = () => Math.floor(Date.now() / 1000)

// The string a signature covers (§6.10), from 2.4.0's auth params.
function signedString (p, t, n) {
  if (p.action) return `${APP}:${p.clientId}:${p.convId}:${sorted(p.members)}:${t}:${n}:${p.action}`
  if (p.members) return `${APP}:${p.clientId}:${sorted(p.members)}:${t}:${n}`
  return `${APP}:${p.clientId || ''}::${t}:${n}`
}

// An `auth` option that signs correctly and records what 2.4.0 asked for.
function goodAuth (calls, tamper) {
  return (params, cb) => {
    calls.push(JSON.parse(JSON.stringify(params)))
    const t = now()
    const n = nonce()
    const r = { signature: hmac(signedString(params, t, n)), nonce: n, timestamp: t }
    cb(tamper ? tamper(params, r) : r)
  }
}

// Waits for the server to reject a login: 2.4.0 sees `session closed` and the socket closes.
async function expectLoginRejected (ctx, name, auth, clientId = ctx.id(name)) {
  const client = suite.rt({ appId: APP, clientId, auth })
  ctx.clients.push(client)
  ctx.attach(name, client)
  client.on('session-closed', (d) => ctx.rec(name, 'session-closed', d))
  await ctx.waitCount(name, 'close', 1)
  await closeOne(client) // stop 2.4.0 from reconnecting 5 s later
  assert.equal(ctx.count(name, 'open'), 0, 'no session opened')
  const closed = ctx.trace.of(name, 'session-closed').map((e) => e.data)
  assert.equal(closed.length, 1, 'session closed frame before the socket closes')
  assert.equal(closed[0].code, 4102)
  assert.equal(closed[0].reason, 'SIGNATURE_FAILED')
  assert.equal(ctx.trace.of(name, 'close')[0].data.code, 4102, 'socket closed with 4102')
}

test('good signatures: open, start, invite and kick are signed; self-leave is unsigned and allowed', T, async (t) => {
  const ctx = newCtx(t)
  const calls = []
  const A = ctx.id('alice')
  const alice = await ctx.open('alice', { auth: goodAuth(calls) })
  assert.deepEqual(calls, [{ clientId: A }])
  const room = await ctx.create('alice', alice, { name: 'S', members: [ctx.id('bob')] })
  assert.deepEqual(calls[1], { clientId: A, members: [ctx.id('bob')] }, 'start signs the members as sent (creator not added)')
  await ctx.call('alice', 'add', (cb) => room.add([ctx.id('dave'), ctx.id('carol')], cb))
  assert.deepEqual(calls[2], { clientId: A, members: [ctx.id('dave'), ctx.id('carol')], convId: room.id, action: 'invite' })
  await ctx.call('alice', 'remove', (cb) => room.remove(ctx.id('dave'), cb))
  assert.deepEqual(calls[3], { clientId: A, members: [ctx.id('dave')], convId: room.id, action: 'kick' })
  await ctx.call('alice', 'self-join', (cb) => room.join(cb)) // already a member: still signed as invite
  assert.equal(calls[4].action, 'invite')
  await ctx.call('alice', 'leave', (cb) => room.leave(cb))
  assert.equal(calls.length, 5, '2.4.0 does not sign a self-leave')
  const members = await ctx.call('alice', 'list', (cb) => room.list(cb))
  assert.deepEqual([...members].sort(), [ctx.id('bob'), ctx.id('carol')].sort())
  assert.equal(ctx.count('alice', 'error'), 0)
})

test('bad login signature -> session closed 4102 SIGNATURE_FAILED, then close 4102', T, async (t) => {
  const ctx = newCtx(t)
  await expectLoginRejected(ctx, 'mallory', goodAuth([], (p, r) => Object.assign(r, { signature: hmac(signedString(p, r.timestamp, r.nonce), 'wrong-key') })))
})

test('login signature with a timestamp outside the window (2 h old) is rejected', T, async (t) => {
  const ctx = newCtx(t)
  await expectLoginRejected(ctx, 'old', (params, cb) => {
    const ts = now() - 7200
    const n = nonce()
    cb({ signature: hmac(signedString(params, ts, n)), nonce: n, timestamp: ts })
  })
})

test('a nonce reused within the window is rejected', T, async (t) => {
  const ctx = newCtx(t)
  const ts = now()
  const n = nonce()
  const fixed = (params, cb) => cb({ signature: hmac(signedString(params, ts, n)), nonce: n, timestamp: ts })
  await ctx.open('replay', { auth: fixed })
  // The same client, signature, t and n again (a second device replaying the first login).
  await expectLoginRejected(ctx, 'replay2', fixed, ctx.id('replay'))
})

test('bad conversation signatures -> error 4302; the callbacks never fire', T, async (t) => {
  const ctx = newCtx(t)
  let mode = 'good'
  const alice = await ctx.open('alice', {
    auth: goodAuth([], (p, r) => (mode === 'good' ? r : Object.assign(r, { signature: hmac('nonsense') })))
  })
  const room = await ctx.create('alice', alice, { name: 'X', members: [ctx.id('bob')] })
  mode = 'bad'
  alice.room({ name: 'Y', members: [ctx.id('bob')] }, () => ctx.rec('alice', 'start-cb (must not fire)'))
  await ctx.waitCount('alice', 'error', 1)
  room.add(ctx.id('carol'), () => ctx.rec('alice', 'add-cb (must not fire)'))
  await ctx.waitCount('alice', 'error', 2)
  room.remove(ctx.id('bob'), () => ctx.rec('alice', 'remove-cb (must not fire)'))
  await ctx.waitCount('alice', 'error', 3)
  await ctx.settle(200)
  const errors = ctx.trace.of('alice', 'error').map((e) => e.data)
  for (const e of errors) {
    assert.equal(e.cmd, 'error', 'form 1 error frame (§6.9)')
    assert.equal(e.code, 4302)
    assert.equal(typeof e.i, 'number')
  }
  assert.equal(ctx.count('alice', 'start-cb (must not fire)') + ctx.count('alice', 'add-cb (must not fire)') + ctx.count('alice', 'remove-cb (must not fire)'), 0)
  mode = 'good'
  const members = await ctx.call('alice', 'list', (cb) => room.list(cb))
  assert.deepEqual([...members].sort(), [ctx.id('alice'), ctx.id('bob')].sort(), 'nothing changed')
})

test('a signature for another action (invite used for kick) is rejected', T, async (t) => {
  const ctx = newCtx(t)
  const alice = await ctx.open('alice', {
    auth: goodAuth([], (p, r) => (p.action === 'kick' ? Object.assign(r, { signature: hmac(signedString(Object.assign({}, p, { action: 'invite' }), r.timestamp, r.nonce)) }) : r))
  })
  const room = await ctx.create('alice', alice, { name: 'K', members: [ctx.id('bob')] })
  room.remove(ctx.id('bob'), () => ctx.rec('alice', 'remove-cb (must not fire)'))
  await ctx.waitCount('alice', 'error', 1)
  assert.equal(ctx.trace.of('alice', 'error')[0].data.code, 4302)
})
