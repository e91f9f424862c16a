'use strict'
// A peer that stops reading: a real leanrt-server behind a TCP relay that, once the
// client has sent 64 KiB, stops reading from it and forwarding either way. The
// client's writes then block in the kernel. Native transport: every write waits at
// most 10 s, so the link counts as lost, `close()` completes, and Node exits by
// itself (before the fix the session hung in a write forever and Node never exited).
// Sends made meanwhile wait in a bounded queue: past 65 536 the app gets `error`
// events instead of memory growing without a bound.
const { test, before, after } = require('node:test')
const assert = require('node:assert/strict')
const net = require('node:net')

const { startServer, stopAll } = require('./helpers/server')
const { runNode } = require('./leanrt-common')

const APP = 'leanrtStall'
const FREEZE_AFTER = 64 * 1024
const SEND_QUEUE = 65536
let srv
const relays = []
const sockets = []

/** A relay to the server that freezes for good once a client sent FREEZE_AFTER bytes. */
async function freezingRelay() {
  let forwarded = 0
  let frozen = false
  const relay = net.createServer((inbound) => {
    sockets.push(inbound)
    if (frozen) return inbound.pause()
    const upstream = net.connect(srv.port, '127.0.0.1')
    sockets.push(upstream)
    upstream.on('data', (d) => { if (!frozen) inbound.write(d) })
    inbound.on('data', (d) => {
      if (frozen) return
      upstream.write(d)
      forwarded += d.length
      if (forwarded > FREEZE_AFTER) {
        frozen = true
        inbound.pause()
        upstream.pause()
      }
    })
    const end = () => { inbound.destroy(); upstream.destroy() }
    inbound.on('error', end)
    upstream.on('error', end)
  })
  await new Promise((resolve) => relay.listen(0, '127.0.0.1', resolve))
  relays.push(relay)
  return relay
}

before(async () => {
  srv = await startServer({ app: APP, args: ['--rate-limit', '0'] })
})
after(async () => {
  for (const s of sockets) s.destroy()
  for (const relay of relays) relay.close()
  await stopAll()
})

test('close() completes and Node exits against a peer that stopped reading', { timeout: 60000 }, async () => {
  const relay = await freezingRelay()
  const script = `
    const realtime = require('.')
    const big = 'x'.repeat(4000)
    const rt = realtime({ appId: '${APP}', clientId: 'stall-a', server: 'ws://127.0.0.1:${relay.address().port}/' }, () => {
      rt.room({ members: ['stall-b'] }, (room) => {
        for (let i = 0; i < 4000; i++) room.send(big)
        setTimeout(() => {
          console.log('closing')
          const started = Date.now()
          process.on('exit', () => console.log('exited ' + (Date.now() - started)))
          rt.close()
        }, 1000)
      })
    })
    rt.on('error', (e) => console.log('error ' + e.message))`
  const r = await runNode(script, { LEANRT_SERVER: '', LEANRT_ROUTER: '' }, 50000)
  assert.equal(r.signal, null, `Node was killed: it never exited\n${r.stdout}\n${r.stderr}`)
  assert.equal(r.code, 0, r.stderr)
  assert.match(r.stdout, /closing/)
  assert.match(r.stdout, /exited \d+/)
  assert.doesNotMatch(r.stderr, /Uncaught|panicked/)
})

test('sends past the bounded queue get error events while a write is blocked', { timeout: 60000 }, async () => {
  const relay = await freezingRelay()
  const script = `
    const realtime = require('.')
    const big = 'x'.repeat(4000)
    let refused = 0
    let other = ''
    const rt = realtime({ appId: '${APP}', clientId: 'stall-c', server: 'ws://127.0.0.1:${relay.address().port}/' }, () => {
      rt.room({ members: ['stall-d'] }, (room) => {
        for (let i = 0; i < 2000; i++) room.send(big)
        setTimeout(() => {
          // The engine is stuck in a write now: these wait in the queue, or are refused.
          for (let i = 0; i < 70000; i++) room.send('small ' + i)
          console.log('refused ' + refused + ' ' + other)
          rt.close()
        }, 1000)
      })
    })
    rt.on('error', (e) => {
      if (/${SEND_QUEUE} sends wait already/.test(e.message) && e.frame.cmd === 'direct') refused++
      else other = e.message
    })`
  const r = await runNode(script, { LEANRT_SERVER: '', LEANRT_ROUTER: '' }, 50000)
  assert.equal(r.code, 0, r.stderr)
  const refused = Number(/refused (\d+)/.exec(r.stdout)[1])
  // At least the 70 000 beyond the queue's size were refused, not all of them.
  assert.ok(refused >= 70000 - SEND_QUEUE && refused < 70000, r.stdout)
  assert.doesNotMatch(r.stderr, /Uncaught|panicked/)
})
