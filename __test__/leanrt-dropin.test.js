'use strict'
// The drop-in details a migrating bot leans on, each run on 2.4.0 and on leanrt where
// 2.4.0 has the behaviour: `rt.cache.ws` (readyState, close() as a forced reconnect, the
// injected class's own instance), `_engine.wsMessage` with a MessageEvent, a patched
// `_engine.wsSend` seeing `session open`; and leanrt's own guarantees: a message is acked
// only once its `message` event was dispatched, requests that get no reply are
// forgotten, a paused client reads nothing until resumed, and an injected socket that
// floods the engine is cut off instead of queueing without a bound.
const { test, before, after, afterEach } = require('node:test')
const assert = require('node:assert/strict')
const { spawn } = require('node:child_process')
const WebSocket = require('ws')

const realtime = require('..')
const { startServer, stopAll } = require('./helpers/server')
const { originalFactory, closeAll } = require('./helpers/original')
const { ROOT, cb, sleep, until, clients } = require('./leanrt-common')

const APP = 'leanrtDropin'
const T = { timeout: 40000 }
let srv
let c
let n = 0

before(async () => {
  srv = await startServer({ app: APP })
  // leanrt's first reconnect delay (2.4.0's is a fixed 5 s).
  process.env.LEANRT_RECONNECT_DELAY_MS = '300'
})
after(async () => {
  delete process.env.LEANRT_RECONNECT_DELAY_MS
  await closeAll()
  await stopAll()
})
afterEach(() => {
  realtime.config({ WebSocket: null })
  if (c) c.closeAll()
})

/** A unique id per test and name. */
function id(name) {
  return `d${n}${process.pid}_${name}`
}

/** The WebSocket class 2.4.0 ships (ws 0.8), to restore after injecting ws 8. */
const BundledWs = require('leancloud-realtime/node_modules/ws')

/** The contenders: 2.4.0 and leanrt, each on its default transport and on ws 8. */
function contenders() {
  const original = originalFactory(srv.routerUrl)
  const inject = (lib, WebSocketClass) => () => lib.config({ WebSocket: WebSocketClass })
  return [
    { name: '2.4.0', make: original, lib: original, setup() {}, reset() {} },
    { name: 'leanrt native', make: realtime, lib: realtime, setup() {}, reset() {} },
    { name: '2.4.0 on ws', make: original, lib: original, setup: inject(original, WebSocket), reset: inject(original, BundledWs) },
    { name: 'leanrt on ws', make: realtime, lib: realtime, setup: inject(realtime, WebSocket), reset: inject(realtime, null) },
  ]
}

/** Opens a client; `listen(rt)` runs before the open, as most apps register listeners. */
function openClient(make, clientId, listen = () => {}) {
  let rt
  return cb((done) => {
    rt = make({ appId: APP, clientId, router: srv.routerUrl }, () => done(rt))
    listen(rt)
  }, 10000, `open ${clientId}`)
}

test('cache.ws: readyState, and close() forces a reconnect (close, reuse, open), on 2.4.0 and leanrt', T, async () => {
  n++
  const traces = {}
  for (const who of contenders()) {
    who.setup()
    let seen = []
    const rt = await openClient(who.make, id(who.name.replace(/\W/g, '')), (rt) => {
      for (const name of ['open', 'close', 'reuse']) {
        rt.on(name, (data) => seen.push([name, rt.cache.ws.readyState, name === 'close' ? data.code : null]))
      }
    })
    if (who.name.endsWith('on ws')) assert.ok(rt.cache.ws instanceof WebSocket, 'the injected class is cache.ws')
    seen = []
    const before = rt.cache.ws.readyState
    rt.cache.ws.close()
    await until(() => seen.some(([name]) => name === 'open'), `${who.name} reopens`, 15000)
    // The client works on the new socket: a room is created and a send acked.
    const room = await cb((done) => rt.room({ members: [id('peer')] }, done), 5000, `${who.name} room`)
    const ack = await cb((done) => room.send('after the forced reconnect', done), 5000, `${who.name} ack`)
    traces[who.name] = { before, seen: seen.map(([name]) => name), code: seen[0][2], open: seen.at(-1)[1], acked: typeof ack.t }
    rt.close()
    who.reset()
  }
  // The close code is the socket library's: ws 0.8 and the native transport report 1000
  // for a close without a code, ws 8 reports 1005.
  const expected = (code) => ({ before: 1, seen: ['close', 'reuse', 'open'], code, open: 1, acked: 'number' })
  assert.deepEqual(traces, {
    '2.4.0': expected(1000),
    'leanrt native': expected(1000),
    '2.4.0 on ws': expected(1005),
    'leanrt on ws': expected(1005),
  })
})

test('_engine.wsMessage takes a MessageEvent; a patched _engine.wsSend sees session open, on 2.4.0 and leanrt', T, async () => {
  n++
  const traces = {}
  for (const who of contenders().slice(0, 2)) {
    const engine = who.lib._engine
    const wsSend = engine.wsSend
    const sent = []
    engine.wsSend = function (cache, data) {
      sent.push(data.cmd + ' ' + data.op)
      return wsSend.apply(this, arguments)
    }
    let rt
    try {
      rt = await openClient(who.make, id(who.name.replace(/\W/g, '')))
    } finally {
      engine.wsSend = wsSend
    }
    const got = []
    rt.on('custom-ping', (data) => got.push(data))
    engine.wsMessage(rt.cache, { data: JSON.stringify({ cmd: 'custom', op: 'ping', v: 1 }) })
    traces[who.name] = { first: sent[0], got }
    rt.close()
  }
  const expected = { first: 'session open', got: [{ cmd: 'custom', op: 'ping', v: 1 }] }
  assert.deepEqual(traces, { '2.4.0': expected, 'leanrt native': expected })
})

/** Runs `script` in a child process; resolves with it and a line reader. */
function child(script) {
  const proc = spawn(process.execPath, ['-e', script], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] })
  const lines = []
  let buffered = ''
  proc.stdout.on('data', (d) => {
    buffered += d
    const parts = buffered.split('\n')
    buffered = parts.pop()
    lines.push(...parts)
  })
  let stderr = ''
  proc.stderr.on('data', (d) => (stderr += d))
  const exited = new Promise((resolve) => proc.on('exit', (code, signal) => resolve({ code, signal, stderr })))
  return { proc, lines, exited }
}

test('a message is acked only once dispatched: messages a killed process never emitted come again', T, async () => {
  n++
  c = clients(realtime, srv.routerUrl, APP)
  const bob = id('bob')
  const alice = await c.connect(id('alice'))
  const room = await cb((done) => alice.room({ members: [bob] }, done))
  // Bob's process opens, then blocks its JS thread: the engine reads the messages, but
  // no `message` event can be dispatched before the kill.
  const bobProc = child(`
    const realtime = require('.')
    const rt = realtime({ appId: '${APP}', clientId: '${bob}', router: '${srv.routerUrl}' }, () => {
      console.log('open')
      setTimeout(() => {
        console.log('blocking')
        const until = Date.now() + 20000
        while (Date.now() < until) {}
      }, 100)
    })
    rt.on('message', (m) => console.log('message ' + m.msg))`)
  await until(() => bobProc.lines.includes('blocking'), 'bob blocks', 10000)
  for (const text of ['one', 'two', 'three']) {
    await cb((done) => room.send(text, done), 5000, `ack of ${text}`)
  }
  // Delivered to Bob's engine (his session is online); give the frames time to arrive.
  await sleep(1000)
  bobProc.proc.kill('SIGKILL')
  const exited = await bobProc.exited
  assert.equal(exited.signal, 'SIGKILL')
  assert.ok(!bobProc.lines.some((l) => l.startsWith('message')), 'bob emitted nothing before the kill')
  // Listening from the start: the owed messages may come in the batch of the login.
  const got = []
  const bobAgain = c.track(realtime({ appId: APP, clientId: bob, router: srv.routerUrl }))
  bobAgain.on('message', (m) => got.push(m.msg))
  await until(() => got.length >= 3, 'the three messages again', 10000)
  await sleep(300)
  assert.deepEqual(got, ['one', 'two', 'three'])
})

test('refused requests and requests superseded by a reused serial id are forgotten', T, async () => {
  n++
  c = clients(realtime, srv.routerUrl, APP)
  const rt = await c.connect(id('rt'))
  const room = await cb((done) => rt.room({ members: [id('peer')] }, done))
  // Refused: the server answers `error` with the request's `i`; no callback, and no
  // handler left waiting (2.4.0 kept it for good).
  const missing = rt.room('5550000000000000000000ff')
  missing.id = '5550000000000000000000ff'
  const errors = []
  rt.on('error', (e) => errors.push(e))
  let refusedCalled = 0
  missing.count(() => refusedCalled++)
  await until(() => errors.some((e) => e.cmd === 'error'), 'the refusal', 5000)
  assert.equal(refusedCalled, 0)
  assert.equal(rt.cache.replies.has('conv-result'), false, 'no count handler waits after the refusal')

  // Superseded: a request whose reply never came (its frame swallowed, as on a lost
  // socket) must not fire for the request that has its serial id one round later.
  const engine = realtime._engine
  const wsSend = engine.wsSend
  engine.wsSend = () => {}
  rt.cache.serialId = 3000
  let staleCalled = 0
  room.count(() => staleCalled++)
  engine.wsSend = wsSend
  rt.cache.serialId = 999999
  await cb((done) => room.count(done), 5000, 'count after the wrap') // serial id 2015
  rt.cache.serialId = 3000 // the same id as the swallowed request, one round later
  const count = await cb((done) => room.count(done), 5000, 'count with the reused id')
  await sleep(100)
  assert.equal(count, 2)
  assert.equal(staleCalled, 0, 'the stale handler never fired')
})

test('_engine.pause stops reading until resumed; nothing is lost or reordered', T, async () => {
  n++
  c = clients(realtime, srv.routerUrl, APP)
  const bob = await c.connect(id('bob'))
  const alice = await c.connect(id('alice'))
  const room = await cb((done) => alice.room({ members: [id('bob')] }, done))
  const got = []
  bob.on('message', (m) => got.push(m.msg))
  realtime._engine.pause(bob.cache, true)
  await sleep(100)
  for (const text of ['a', 'b', 'c']) await cb((done) => room.send(text, done), 5000, `ack of ${text}`)
  await sleep(500)
  assert.deepEqual(got, [], 'nothing read while paused')
  realtime._engine.pause(bob.cache, false)
  await until(() => got.length === 3, 'the messages after resume')
  assert.deepEqual(got, ['a', 'b', 'c'])
})

test('cache.ws listeners on the native transport: event objects, or ws-style arguments through on()', T, async () => {
  n++
  c = clients(realtime, srv.routerUrl, APP)
  const rt = await c.connect(id('rt'))
  const seen = []
  rt.cache.ws.addEventListener('message', (event) => seen.push(['event', JSON.parse(event.data).cmd]))
  const onMessage = (data) => seen.push(['on', JSON.parse(data).cmd])
  rt.cache.ws.on('message', onMessage)
  rt.cache.ws.on('close', (code) => seen.push(['close', code]))
  rt.cache.ws.addEventListener('close', (event) => seen.push(['close event', event.code]))
  await cb((done) => rt.ping([id('nobody')], done))
  rt.cache.ws.off('message', onMessage)
  await cb((done) => rt.ping([id('nobody')], done))
  rt.cache.ws.close()
  await until(() => seen.some(([kind]) => kind === 'close event'), 'the close')
  assert.deepEqual(seen, [
    ['event', 'session'],
    ['on', 'session'],
    ['event', 'session'],
    ['close', 1000],
    ['close event', 1000],
  ])
})

test('an injected socket that floods the engine past its 4096 pending reports counts as lost, and the client reconnects', T, async () => {
  n++
  const clientId = id('flood')
  // A ws 8 socket that, once asked, fires 10 000 messages in one tick: JS cannot drain
  // the engine's events meanwhile, so the reports pile up behind them.
  let flood
  class FloodingWs extends WebSocket {
    constructor(url) {
      super(url)
      flood = () => {
        for (let k = 0; k < 10000; k++) this.emit('message', Buffer.from(`{"cmd":"custom","op":"x","k":${k}}`), false)
      }
    }
  }
  realtime.config({ WebSocket: FloodingWs })
  c = clients(realtime, srv.routerUrl, APP)
  const rt = await c.connect(clientId)
  const seen = []
  rt.on('close', (e) => seen.push(['close', e.code, e.reason]))
  rt.on('open', () => seen.push(['open']))
  let customs = 0
  rt.on('custom-x', () => customs++)
  flood()
  await until(() => seen.some(([name]) => name === 'open'), 'the reconnect', 15000)
  assert.equal(seen[0][0], 'close')
  assert.equal(seen[0][1], 1006)
  assert.match(seen[0][2], /more than 4096 socket events pending/)
  assert.ok(customs > 0 && customs < 10000, `${customs} of the flood were delivered before the cut`)
  // The new socket works.
  assert.deepEqual(await cb((done) => rt.ping([clientId], done)), [clientId])
})
