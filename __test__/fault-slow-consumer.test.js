'use strict'
// Fault (issue 6, 1c): a slow consumer. A raw `ws` client opens a session, joins a
// conversation, then stops reading its socket (`ws._socket.pause()`). A leanrt sender keeps
// sending 4 KB messages; a leanrt receiver in the same conversation measures each
// message's delay (receive time minus send time). Asserts: the other member's worst
// delay stays under BOUND_MS, every acked message reaches it, and the slow client is
// closed with 4117 SLOW_CONSUMER (crates/protocol/src/codes.rs) once its queue is full
// (server flag --outbound-queue, here 256 frames). Prints the worst delay seen by others.
const { test, before, after } = require('node:test')
const assert = require('node:assert/strict')
const WebSocket = require('ws')

const realtime = require('..')
const { startServer, stopAll } = require('./helpers/server')
const { cb, until } = require('./leanrt-common')

const APP = 'faultSlow'
const QUEUE = Number(process.env.FAULT_SLOW_QUEUE) || 256
const BOUND_MS = Number(process.env.FAULT_SLOW_BOUND_MS) || 2000
const BODY = 'x'.repeat(4000)
const WAVE = Number(process.env.FAULT_SLOW_WAVE) || 50
const MAX_MESSAGES = Number(process.env.FAULT_SLOW_MAX) || 6000
const T = { timeout: 90000 }

let srv
before(async () => {
  srv = await startServer({ app: APP, args: ['--outbound-queue', String(QUEUE), '--rate-limit', '100000'] })
})
after(() => stopAll())

function rawClient(url, peer) {
  const ws = new WebSocket(url)
  const frames = []
  let closed = null
  ws.on('message', (d) => frames.push(JSON.parse(String(d))))
  const closing = new Promise((resolve) =>
    ws.on('close', (code, reason) => {
      closed = { code, reason: String(reason) }
      resolve(closed)
    }),
  )
  ws.on('error', () => {})
  const opening = new Promise((resolve, reject) => {
    ws.once('open', resolve)
    ws.once('error', reject)
  })
  opening.catch(() => {})
  let i = 100
  return {
    ws,
    frames,
    closing,
    get closed() {
      return closed
    },
    open() {
      return opening
    },
    async request(frame) {
      const id = ++i
      ws.send(JSON.stringify(Object.assign({ i: id, peerId: peer }, frame)))
      await until(() => frames.some((f) => f.i === id), `reply ${id}`, 5000)
      return frames.find((f) => f.i === id)
    },
  }
}

test('a consumer that stops reading does not delay the others and is closed with 4117', T, async () => {
  let sender
  let receiver
  let slow
  try {
    sender = await cb((done) => {
      const rt = realtime({ appId: APP, clientId: 'slowSender', router: srv.routerUrl }, () => done(rt))
    })
    receiver = await cb((done) => {
      const rt = realtime({ appId: APP, clientId: 'slowReceiver', router: srv.routerUrl }, () => done(rt))
    })
    const room = await cb((done) => sender.room({ name: 'slow', members: ['slowReceiver'] }, done))

    slow = rawClient(srv.wsUrl, 'slowpoke')
    await slow.open()
    const opened = await slow.request({ cmd: 'session', op: 'open', appId: APP, ua: 'js/2.4.0' })
    assert.equal(opened.op, 'opened', JSON.stringify(opened))
    const joined = await slow.request({ cmd: 'conv', op: 'add', cid: room.id, m: ['slowpoke'] })
    assert.equal(joined.op, 'added', JSON.stringify(joined))
    slow.ws._socket.pause()

    const receiverCloses = []
    receiver.on('close', (e) => receiverCloses.push(e && e.code))
    let worst = 0
    let received = 0
    const delays = []
    receiver.on('message', (m) => {
      const sentAt = Number(String(m.msg).split(':')[0])
      const d = Date.now() - sentAt
      delays.push(d)
      if (d > worst) worst = d
      received++
    })

    // Send in waves until the server has dropped the slow client (it is no longer online).
    let acked = 0
    let sent = 0
    let slowOnline = true
    const t0 = Date.now()
    while (slowOnline && sent < MAX_MESSAGES) {
      const wave = []
      for (let k = 0; k < WAVE; k++) {
        sent++
        wave.push(cb((done) => room.send(`${Date.now()}:${BODY}`, done), 10000, 'ack'))
      }
      for (const ack of await Promise.all(wave)) if (ack && ack.uid) acked++
      const online = await cb((done) => sender.ping('slowpoke', done), 5000, 'ping')
      slowOnline = online.includes('slowpoke')
    }
    const sendMs = Date.now() - t0
    // Read again so that the close frame can arrive.
    slow.ws._socket.resume()
    try {
      await until(() => received >= acked, 'the receiver got every acked message', 10000)
    } catch (e) {
      assert.fail(`the other member got ${received} of ${acked} acked messages; its socket closed with ${JSON.stringify(receiverCloses)}`)
    }
    let timer
    const closed = await Promise.race([slow.closing, new Promise((resolve) => (timer = setTimeout(resolve, 10000, null)))])
    clearTimeout(timer)
    delays.sort((a, b) => a - b)
    const p99 = delays[Math.floor(delays.length * 0.99)]
    console.log(
      `# fault-slow-consumer: ${sent} x 4 KB sent in ${sendMs} ms, ${acked} acked, ${received} received by the other member; ` +
        `worst delay ${worst} ms, p99 ${p99} ms; slow client dropped: ${!slowOnline}, close ${JSON.stringify(closed)} ` +
        `after ${slow.frames.length} frames read; ` +
        `the other member's socket closed ${receiverCloses.length} times`,
    )
    assert.equal(slowOnline, false, `the slow client was still online after ${sent} messages`)
    assert.equal(acked, sent, 'every message was acked')
    assert.deepEqual(receiverCloses, [], 'the other member was never disconnected')
    assert.ok(worst < BOUND_MS, `worst delay for the other member ${worst} ms >= ${BOUND_MS} ms`)
    assert.ok(closed, 'the slow client saw its socket close')
    assert.equal(closed.code, 4117, `close code ${JSON.stringify(closed)}`)
  } finally {
    for (const rt of [sender, receiver]) {
      try {
        if (rt) rt.close()
      } catch (_) {}
    }
    if (slow) slow.ws.terminate()
  }
})
