'use strict'
// What leanrt puts on the wire and how it reads what comes back, watched from the JS
// socket side: the fixes of protocol.md §9.1 (heartbeat on every socket) and §9.4
// (`session close` on close()), the close code of a server-ended session, and frames
// leanrt-server never sends (legacy `conv error`, `session error`, non-JSON text), which
// must become `error` events and never throw.
const { test, before, after } = require('node:test')
const assert = require('node:assert/strict')
const WebSocket = require('ws')

const realtime = require('..')
const { startServer, stopAll } = require('./helpers/server')
const { cb, nextEvent, sleep, until } = require('./leanrt-common')

const APP = 'leanrtWire'
const T = { timeout: 20000 }
let srv
let n = 0
const id = (name) => `w${++n}${process.pid}_${name}`

before(async () => {
  srv = await startServer({ app: APP })
})
after(() => {
  realtime.config({ WebSocket: null, heartbeatsTime: 60000 })
  return stopAll()
})

/** A `ws` class that records every text each of its sockets sends. */
function spyClass() {
  const sockets = []
  class Spy extends WebSocket {
    constructor(url) {
      super(url)
      this.sent = []
      sockets.push(this)
    }

    send(text) {
      this.sent.push(String(text))
      return super.send(text)
    }
  }
  return { Spy, sockets }
}

/** Events `names` of `rt` as [name, payload] in order. */
function record(rt, names) {
  const seen = []
  for (const name of names) rt.on(name, (data) => seen.push([name, data]))
  return seen
}

/** A session the server ends at login: `session closed` 4103, then close 4103. */
async function refusedLogin() {
  const rt = realtime({ appId: APP, clientId: 'x'.repeat(65), router: srv.routerUrl })
  const seen = record(rt, ['open', 'session-closed', 'reuse', 'close'])
  await until(() => seen.some(([name]) => name === 'close'), 'close')
  rt.destroy() // never opened, so rt.close() throws as in 2.4.0
  return seen.map(([name, data]) => [name, name === 'session-closed' || name === 'close' ? data.code : null])
}

test('a session ended by the server reports the server close code, on both transports', T, async () => {
  const expected = [
    ['session-closed', 4103],
    ['reuse', null],
    ['close', 4103],
  ]
  assert.deepEqual(await refusedLogin(), expected, 'native transport')
  realtime.config({ WebSocket })
  try {
    assert.deepEqual(await refusedLogin(), expected, 'injected ws')
  } finally {
    realtime.config({ WebSocket: null })
  }
})

test('the heartbeat {} is sent on every socket, and close() sends session close (fixes §9.1, §9.4)', T, async () => {
  const { Spy, sockets } = spyClass()
  realtime.config({ WebSocket: Spy, heartbeatsTime: 50 })
  try {
    const clientId = id('beat')
    const rt = await cb((done) => {
      const rt = realtime({ appId: APP, clientId, router: srv.routerUrl }, () => done(rt))
    })
    await until(() => sockets[0].sent.includes('{}'), 'a heartbeat on the first socket')
    // open() while connected replaces the socket (2.4.0's extra reconnect cycle).
    const reopened = nextEvent(rt, 'open')
    rt.open()
    await reopened
    assert.equal(sockets.length, 2)
    await until(() => sockets[1].sent.includes('{}'), 'a heartbeat on the second socket')
    // Only one {} per quiet period: the server's {} answer re-arms the timer.
    await sleep(300)
    const beats = sockets[1].sent.filter((t) => t === '{}').length
    assert.ok(beats >= 2 && beats <= 8, `${beats} heartbeats in about 350 ms at 50 ms`)

    const closed = nextEvent(rt, 'close')
    rt.close()
    assert.equal((await closed).code, 1000)
    const last = JSON.parse(sockets[1].sent.at(-1))
    assert.deepEqual({ cmd: last.cmd, op: last.op, peerId: last.peerId }, { cmd: 'session', op: 'close', peerId: clientId })
    assert.equal(typeof last.i, 'number')
  } finally {
    realtime.config({ WebSocket: null, heartbeatsTime: 60000 })
  }
})

test('frames leanrt-server never sends become error events and never throw', T, async (t) => {
  // A scripted peer, not a server: it answers the login, then plays the legacy and broken
  // frames 2.4.0 mishandled (a conv error threw "code:reason"; `{hi}` threw in JSON.parse).
  const peer = new WebSocket.Server({ host: '127.0.0.1', port: 0 })
  t.after(() => peer.close())
  await new Promise((resolve) => peer.once('listening', resolve))
  const script = [
    '{"cmd":"conv","op":"error","i":2017,"code":4301,"reason":"CONVERSATION_API_FAILED"}',
    '{"cmd":"session","op":"error","code":4200,"reason":"INTERNAL_ERROR"}',
    '{hi}',
    '[1,2]',
    '{"cmd":"direct","cid":"c1","id":"m1","fromPeerId":"bob","timestamp":1,"msg":"{not json}"}',
  ]
  peer.on('connection', (ws) => {
    ws.once('message', (text) => {
      const open = JSON.parse(String(text))
      ws.send(JSON.stringify({ cmd: 'session', op: 'opened', i: open.i, peerId: open.peerId }))
      for (const frame of script) ws.send(frame)
    })
  })
  const uncaught = []
  const onUncaught = (err) => uncaught.push(err)
  process.on('uncaughtException', onUncaught)
  t.after(() => process.off('uncaughtException', onUncaught))

  const server = `ws://127.0.0.1:${peer.address().port}/`
  const rt = realtime({ appId: APP, clientId: id('legacy'), server })
  t.after(() => rt.close())
  const seen = record(rt, ['error', 'message', 'conv-error', 'session-error'])
  await until(() => seen.some(([name]) => name === 'message'), 'the message after the broken frames')
  await sleep(100)
  const names = seen.map(([name]) => name)
  assert.deepEqual(names.slice(0, 4), ['conv-error', 'error', 'session-error', 'error'])
  assert.equal(seen[1][1].code, 4301, 'conv error: the frame is the error payload')
  assert.equal(seen[3][1].code, 4200, 'session error: the frame is the error payload')
  // `{hi}` is one error event; `[1,2]`, valid JSON without `cmd`, is ignored as by 2.4.0.
  const rest = seen.slice(4)
  assert.deepEqual(rest.map(([name]) => name), ['error', 'message'])
  assert.ok(rest[0][1] instanceof Error && /\{hi\}/.test(rest[0][1].message), String(rest[0][1]))
  assert.equal(rest[1][1].msg, '{not json}', 'unparsable {…} text is delivered as text (fix §9.7)')
  assert.deepEqual(uncaught, [])
})
