'use strict'
// leanrt/promises against a real leanrt-server: connect, rooms and requests with their
// payloads, orders and counts, refusals, time limits, AbortSignals, the message iterator
// and its flow control, close(), and Node exiting by itself (child processes).
const { test, before, after, afterEach } = require('node:test')
const assert = require('node:assert/strict')
const net = require('node:net')

const realtime = require('..')
const promises = require('leanrt/promises')
const { startServer, stopAll } = require('./helpers/server')
const { sleep, until, runNode } = require('./leanrt-common')

const { connect, LeanrtError } = promises
const APP = 'leanrtPromises'
const SIGNED = 'leanrtPromisesSigned'
const T = { timeout: 20000 }
let srv
let open = []
let n = 0

before(async () => {
  srv = await startServer({ app: [APP, `${SIGNED}:masterkey`] })
})
after(() => stopAll())
afterEach(() => Promise.all(open.splice(0).map((rt) => rt.close())))

/** Unique ids per test, and `connect` for clients closed after it. */
function setup() {
  n++
  const id = (name) => `p${n}${process.pid}_${name}`
  const login = async (name, extra = {}) => {
    const rt = await connect(Object.assign({ appId: APP, clientId: id(name), router: srv.routerUrl }, extra))
    open.push(rt)
    return rt
  }
  return { id, login }
}

/** The LeanrtError `promise` rejects with, checked against `expected` fields. */
async function rejects(promise, expected) {
  const err = await promise.then(
    () => assert.fail('resolved'),
    (e) => e,
  )
  assert.ok(err instanceof LeanrtError, `${err && err.stack}`)
  for (const [key, value] of Object.entries(expected)) assert.deepEqual(err[key], value, key)
  return err
}

/** Holds the frames the JS side sends (`_engine.wsSend` is public) until `release()`. */
function holdSends(t) {
  const engine = realtime._engine
  const wsSend = engine.wsSend
  const held = []
  engine.wsSend = (cache, data) => held.push([cache, data])
  const restore = () => (engine.wsSend = wsSend)
  t.after(restore)
  return {
    held,
    release() {
      restore()
      for (const [cache, data] of held.splice(0)) wsSend.call(engine, cache, data)
    },
  }
}

/** Replaces `_engine.pause` (native or absent) with a recorder for this test. */
function recordPauses(t) {
  const engine = realtime._engine
  const had = Object.prototype.hasOwnProperty.call(engine, 'pause')
  const pause = engine.pause
  const calls = []
  engine.pause = (cache, paused) => calls.push([cache, paused])
  t.after(() => (had ? (engine.pause = pause) : delete engine.pause))
  return calls
}

const timers = () => process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length

test('exports: connect and LeanrtError, the same from the file and by the package name', () => {
  assert.equal(promises, require('../promises'))
  assert.deepEqual(Object.keys(promises), ['connect', 'LeanrtError'])
  const err = new LeanrtError('TIMEOUT', 'late', { detail: 'd' })
  assert.ok(err instanceof Error)
  assert.deepEqual([err.name, err.code, err.message, err.reason, err.detail], ['LeanrtError', 'TIMEOUT', 'late', undefined, 'd'])
  const frame = { cmd: 'error', i: 7, code: 4303, reason: 'CONVERSATION_NOT_FOUND', detail: 'x' }
  const refused = LeanrtError.fromFrame(frame)
  assert.deepEqual([refused.code, refused.reason, refused.detail, refused.frame], [4303, 'CONVERSATION_NOT_FOUND', 'x', frame])
  assert.equal(refused.message, '4303 CONVERSATION_NOT_FOUND: x')
})

test('connect: bad options reject with the 2.4.0 messages; an open client', T, async () => {
  const { id, login } = setup()
  await assert.rejects(connect(), { message: 'realtime need a argument at least.' })
  await assert.rejects(connect({}), { message: 'Options must have appId.' })
  await assert.rejects(connect({ appId: APP, region: 'eu' }), { message: 'There is no this region.' })
  await assert.rejects(connect({ appId: APP, timeout: -1 }), RangeError)
  const rt = await login('alice')
  assert.equal(rt.clientId, id('alice'))
  assert.equal(rt.callbacks.cache.openFlag, true)
  assert.equal(typeof rt.callbacks.room, 'function', 'the callback RealtimeObject')
  const anonymous = await login(undefined, { clientId: undefined })
  assert.match(anonymous.clientId, /^[\w-]{22}$/, 'the id the server gave')
})

test('connect: a refused login rejects with the server code and reason, and destroys the client', T, async (t) => {
  const { id } = setup()
  const engine = realtime._engine
  const closeConnection = engine.closeConnection
  const closed = []
  engine.closeConnection = function (cache) {
    closed.push(cache.options.peerId)
    return closeConnection.apply(this, arguments)
  }
  t.after(() => (engine.closeConnection = closeConnection))
  const err = await rejects(connect({ appId: SIGNED, clientId: id('unsigned'), router: srv.routerUrl }), {
    code: 4102,
    reason: 'SIGNATURE_FAILED',
  })
  assert.deepEqual([err.frame.cmd, err.frame.op], ['session', 'closed'])
  assert.deepEqual(closed, [id('unsigned')])
  const failed = await rejects(connect({ appId: APP, clientId: id('nowhere'), server: 'ws://127.0.0.1:9/' }), {
    code: 'CONNECT_FAILED',
  })
  assert.ok(failed.cause instanceof Error)
  assert.match(failed.message, /127\.0\.0\.1:9/)
})

test('connect: the timeout and the signal, against a socket that never answers', T, async (t) => {
  const { id } = setup()
  const sockets = []
  let closed = 0
  const silent = net.createServer((s) => {
    sockets.push(s)
    s.resume().on('close', () => closed++)
  })
  await new Promise((resolve) => silent.listen(0, '127.0.0.1', resolve))
  t.after(() => silent.close())
  const options = { appId: APP, clientId: id('silent'), server: `ws://127.0.0.1:${silent.address().port}/` }
  const started = Date.now()
  await rejects(connect(Object.assign({ timeout: 300 }, options)), { code: 'TIMEOUT' })
  assert.ok(Date.now() - started >= 300)
  const controller = new AbortController()
  const aborted = connect(Object.assign({ signal: controller.signal }, options))
  await until(() => sockets.length === 2, 'the second socket')
  const reason = new Error('stop')
  controller.abort(reason)
  const err = await rejects(aborted, { code: 'ABORTED' })
  assert.equal(err.cause, reason)
  await rejects(connect(Object.assign({ signal: AbortSignal.abort() }, options)), { code: 'ABORTED' })
  await until(() => closed === 2, 'the clients closing their sockets')
  assert.equal(sockets.length, 2, 'an aborted signal does not even connect')
})

test('rooms: create, fetch, send and ack, messages() in order, transient sends', T, async () => {
  const { id, login } = setup()
  const alice = await login('alice')
  const bob = await login('bob')
  const stream = bob.messages()
  const room = await alice.room({ name: 'R', members: [id('bob')], attr: { k: 1 } })
  assert.match(room.id, /^[0-9a-f]{24}$/)
  assert.deepEqual([room.name, room.attr], ['R', { k: 1 }])
  assert.equal(room.callbacks, alice.callbacks.cache.conv[room.id], 'the RoomObject underneath')
  assert.equal(await alice.room(room.id), room, 'one Room per RoomObject')
  assert.equal(await alice.room('000000000000000000000000'), null)
  const created = await alice.room()
  assert.deepEqual([created.name, created.attr], ['', {}], 'room() creates one with the defaults')

  const acks = await Promise.all([0, 1, 2, 3, 4].map((k) => room.send(`m${k}`, { receipt: k === 0 })))
  for (const ack of acks) {
    assert.equal(ack.cmd, 'ack')
    assert.equal(typeof ack.uid, 'string')
    assert.equal(typeof ack.t, 'number')
  }
  assert.deepEqual(acks.map((a) => a.i), [...acks.keys()].map((k) => acks[0].i + k), 'each send has its own ack')
  assert.equal(await room.send({ k: 'v' }, { transient: true }), undefined)
  const got = []
  for await (const m of stream) {
    got.push(m)
    if (got.length === 6) break
  }
  assert.deepEqual(got.map((m) => m.msg), ['m0', 'm1', 'm2', 'm3', 'm4', { k: 'v' }])
  assert.deepEqual(got.slice(0, 5).map((m) => m.id), acks.map((a) => a.uid))
  assert.deepEqual([...new Set(got.map((m) => m.fromPeerId))], [id('alice')])
  assert.deepEqual([got[4].transient, got[5].transient], [undefined, true])
  assert.deepEqual(await stream.next(), { value: undefined, done: true }, 'a break ended it')
})

test('log, list, count, update, query, ping', T, async () => {
  const { id, login } = setup()
  const alice = await login('alice')
  await login('bob')
  const room = await alice.room({ name: 'Q', members: [id('bob')] })
  for (let k = 0; k < 3; k++) await room.send(`m${k}`)
  const last = await room.log({ limit: 2 })
  assert.deepEqual(last.map((l) => [l.msg, l.fromPeerId]), [['m1', id('alice')], ['m2', id('alice')]])
  const older = await room.log({ t: last[0].timestamp, mid: last[0].msgId })
  assert.deepEqual(older.map((l) => l.msg), ['m0'])
  assert.deepEqual(await room.list(), [id('alice'), id('bob')])
  assert.equal(await room.count(), 2)
  const updated = await room.update({ name: 'Q2' })
  assert.deepEqual([updated.cmd, updated.op, updated.cid], ['conv', 'updated', room.id])
  const found = await alice.query()
  assert.deepEqual(found.map((c) => [c.objectId, c.name, c.m]), [[room.id, 'Q2', [id('alice'), id('bob')]]])
  const compact = await alice.query({ compact: true, withLastMessages: true })
  assert.deepEqual([compact[0].m, compact[0].msg], [undefined, 'm2'])
  assert.deepEqual(await alice.ping([id('bob'), id('zed'), id('alice')]), [id('bob'), id('alice')])
  assert.deepEqual(await alice.ping(id('zed')), [])
})

test('add, remove, join, leave', T, async () => {
  const { id, login } = setup()
  const alice = await login('alice')
  const bob = await login('bob')
  const joined = []
  bob.on('invited', (frame) => joined.push(frame.cid))
  const room = await alice.room({ name: 'M' })
  const added = await room.add([id('bob'), id('carol')])
  assert.deepEqual([added.cmd, added.op, added.i], ['conv', 'added', alice.callbacks.cache.serialId])
  assert.deepEqual(await room.list(), [id('alice'), id('bob'), id('carol')])
  await until(() => joined.length === 1, 'bob invited')
  assert.deepEqual(joined, [room.id])
  const removed = await room.remove(id('carol'))
  assert.equal(removed.op, 'removed')
  const bobRoom = await bob.room(room.id)
  assert.equal((await bobRoom.leave()).op, 'removed')
  assert.deepEqual(await room.list(), [id('alice')])
  assert.equal((await bobRoom.join()).op, 'added')
  assert.deepEqual(await room.list(), [id('alice'), id('bob')])
})

test('refusals reject with the server code, reason and frame; other requests are unaffected', T, async () => {
  const { id, login } = setup()
  const alice = await login('alice')
  const bob = await login('bob')
  const room = await alice.room({ name: 'private' })
  const outsider = await bob.room(room.id)
  const errors = []
  bob.on('error', (frame) => errors.push(frame.code))
  const [sent, logs, updated, online] = await Promise.allSettled([
    outsider.send('x'),
    outsider.log(),
    outsider.update({ name: 'mine' }),
    bob.ping(id('alice')),
  ])
  assert.deepEqual([sent.reason.code, sent.reason.reason, sent.reason.frame.cmd], [4401, 'INVALID_MESSAGING_TARGET', 'ack'])
  assert.deepEqual([logs.reason.code, logs.reason.reason, logs.reason.frame.cmd], [4312, 'CONVERSATION_LOG_REJECTED', 'error'])
  assert.deepEqual([updated.reason.code, updated.reason.reason], [4309, 'CONVERSATION_UPDATE_REJECTED'])
  for (const r of [sent, logs, updated]) assert.ok(r.reason instanceof LeanrtError)
  assert.equal(logs.reason.frame.i + 1, updated.reason.frame.i, 'each error frame rejected its own request')
  assert.deepEqual(online.value, [id('alice')])
  assert.deepEqual(errors, [4312, 4309], 'the error events still reach the listeners')
})

test('timeout: a request with no reply rejects with TIMEOUT, its timer is gone, a late reply is ignored', T, async (t) => {
  const { login } = setup()
  const rt = await login('late', { timeout: 150 })
  const room = await rt.room({ name: 'late' })
  const timersBefore = timers()
  const sends = holdSends(t)
  let started = Date.now()
  const err = await rejects(room.count(), { code: 'TIMEOUT' })
  assert.ok(Date.now() - started >= 150, 'the connect timeout is the default')
  assert.match(err.message, /150 ms/)
  started = Date.now()
  await rejects(room.log({ timeout: 50, limit: 1 }), { code: 'TIMEOUT' })
  assert.ok(Date.now() - started < 150, 'a timeout per call')
  assert.equal(sends.held.length, 2)
  assert.equal(timers(), timersBefore, 'no timer left')
  const late = new Promise((resolve) => rt.once('conv-result', resolve))
  sends.release()
  assert.equal((await late).count, 1, 'the reply came, and nothing settles twice')
  assert.equal(await room.count({ timeout: Infinity }), 1)
})

test('AbortSignal: abort rejects with ABORTED and its reason; an aborted signal sends nothing', T, async (t) => {
  const { login } = setup()
  const rt = await login('abort')
  const room = await rt.room({ name: 'abort' })
  const sends = holdSends(t)
  const controller = new AbortController()
  const pending = [room.send('x', { signal: controller.signal }), rt.ping('x', { signal: controller.signal })]
  controller.abort('enough')
  for (const p of pending) assert.equal((await rejects(p, { code: 'ABORTED' })).cause, 'enough')
  const serialId = rt.callbacks.cache.serialId
  await rejects(room.count({ signal: controller.signal }), { code: 'ABORTED' })
  assert.equal(rt.callbacks.cache.serialId, serialId, 'not started')
  assert.equal(sends.held.length, 2)
  sends.release()
  assert.equal(await room.count({ signal: new AbortController().signal }), 1)
})

test('messages(): highWaterMark pauses the socket, resumed at half, over streams and while a reply is awaited', T, async (t) => {
  const { id, login } = setup()
  const pauses = recordPauses(t)
  const alice = await login('alice')
  const bob = await login('bob')
  const room = await bob.room({ name: 'flow', members: [id('alice')] })
  const slow = alice.messages({ highWaterMark: 4 })
  const slower = alice.messages({ highWaterMark: 1 })
  let arrived = 0
  alice.on('message', () => arrived++)
  for (let k = 0; k < 10; k++) await room.send(`m${k}`)
  await until(() => arrived === 10, 'ten messages')
  assert.deepEqual(pauses, [[alice.callbacks.cache, true]], 'paused once, when the first stream passed its mark')
  assert.deepEqual(await alice.ping(id('bob')), [id('bob')])
  assert.deepEqual(pauses.map((p) => p[1]), [true, false, true], 'read while a request waits for its reply')
  const read = []
  for (let k = 0; k < 8; k++) read.push((await slow.next()).value.msg)
  assert.equal(pauses.length, 3, 'slow is down to 2 of 4, but slower still holds')
  await slower.return()
  assert.deepEqual(pauses[3], [alice.callbacks.cache, false])
  for (let k = 0; k < 2; k++) read.push((await slow.next()).value.msg)
  assert.deepEqual(read, [...Array(10).keys()].map((k) => `m${k}`))
  assert.equal(pauses.length, 4)
  assert.throws(() => alice.messages({ highWaterMark: 0 }), RangeError)
})

test("messages(): with the engine's own pause, nothing is lost and a request still gets its reply", T, async (t) => {
  if (typeof realtime._engine.pause !== 'function') return t.skip('this engine has no _engine.pause')
  const { id, login } = setup()
  const alice = await login('alice')
  const bob = await login('bob')
  const room = await bob.room({ name: 'paused', members: [id('alice')] })
  const stream = alice.messages({ highWaterMark: 2 })
  await room.send('first')
  assert.equal((await stream.next()).value.msg, 'first')
  for (let k = 0; k < 20; k++) await room.send(`m${k}`)
  await sleep(100)
  assert.deepEqual(await alice.ping(id('bob'), { timeout: 3000 }), [id('bob')], 'read past the pause for its reply')
  const read = []
  for (let k = 0; k < 20; k++) read.push((await stream.next()).value.msg)
  assert.deepEqual(read, [...Array(20).keys()].map((k) => `m${k}`))
  await stream.return()
})

test('messages(): abort rejects the waiting read; close() ends the iteration after the buffered messages', T, async () => {
  const { id, login } = setup()
  const alice = await login('alice')
  const bob = await login('bob')
  const room = await bob.room({ members: [id('alice')] })
  const controller = new AbortController()
  const reading = (async () => {
    for await (const m of alice.messages({ signal: controller.signal })) void m
  })()
  await sleep(50)
  controller.abort()
  await rejects(reading, { code: 'ABORTED' })

  const buffered = alice.messages()
  let arrived = 0
  alice.on('message', () => arrived++)
  await room.send('one')
  await room.send('two')
  await until(() => arrived === 2, 'two messages')
  await alice.close()
  const rest = []
  for await (const m of buffered) rest.push(m.msg)
  assert.deepEqual(rest, ['one', 'two'])
  assert.deepEqual(await alice.messages().next(), { value: undefined, done: true }, 'a closed client has no messages')
})

test('close(): resolves after the close event; waiting and later requests reject with CLOSED', T, async (t) => {
  const { login } = setup()
  const rt = await login('closer')
  const room = await rt.room({ name: 'closing' })
  const events = []
  rt.on('close', (e) => events.push(e.code))
  holdSends(t)
  const waiting = room.count()
  const closing = rt.close()
  assert.equal(rt.close(), closing, 'one close')
  await closing
  assert.deepEqual(events, [1000])
  await rejects(waiting, { code: 'CLOSED' })
  await rejects(room.send('after'), { code: 'CLOSED' })
  await rejects(rt.ping('x'), { code: 'CLOSED' })
})

test('Node exits by itself after await rt.close(), and after a connect that timed out', T, async () => {
  const prefix = `p${process.pid}exit`
  const r = await runNode(
    `const { connect } = require('leanrt/promises')
     const net = require('node:net')
     ;(async () => {
       const rt = await connect({ appId: '${APP}', clientId: '${prefix}a' })
       const room = await rt.room({ name: 'exit' })
       const loop = (async () => { for await (const m of rt.messages()) void m; console.log('loop ended') })()
       await room.send('hello')
       await rt.close()
       await loop
       const silent = net.createServer().listen(0, '127.0.0.1')
       await new Promise((resolve) => silent.once('listening', resolve))
       const server = 'ws://127.0.0.1:' + silent.address().port + '/'
       await connect({ appId: '${APP}', clientId: '${prefix}b', server, timeout: 200 }).catch((e) => console.log(e.code))
       silent.close()
       console.log('done', Date.now())
     })()`,
    { LEANRT_ROUTER: srv.routerUrl, LEANRT_SERVER: '' },
  )
  assert.equal(r.code, 0, r.stderr)
  assert.match(r.stdout, /^loop ended\nTIMEOUT\ndone \d+\n$/)
  const doneAt = Number(/done (\d+)/.exec(r.stdout)[1])
  assert.ok(Date.now() - doneAt < 5000, `exited ${Date.now() - doneAt} ms after`)
})

test("import('leanrt/promises') by the package name gives the ESM entry's named exports", T, async () => {
  const r = await runNode(
    `import('leanrt/promises').then(async (esm) => {
       const cjs = require('leanrt/promises')
       const rt = await esm.connect({ appId: '${APP}', clientId: 'p${process.pid}esm' })
       const online = await rt.ping(rt.clientId)
       await rt.close()
       console.log(JSON.stringify([Object.keys(esm).sort(), esm.connect === cjs.connect, esm.LeanrtError === cjs.LeanrtError, online]))
     })`,
    { LEANRT_ROUTER: srv.routerUrl, LEANRT_SERVER: '' },
  )
  assert.equal(r.code, 0, r.stderr)
  assert.deepEqual(JSON.parse(r.stdout), [['LeanrtError', 'connect'], true, true, [`p${process.pid}esm`]])
})
