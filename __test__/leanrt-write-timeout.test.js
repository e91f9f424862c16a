'use strict'
// A peer that stops reading: a real leanrt-server behind a TCP relay that, once the
// client has sent 64 KiB, stops reading from it and forwarding either way. The
// client's writes then block in the kernel. Native transport: every write waits at
// most 10 s, so the link counts as lost, `close()` completes, and Node exits by
// itself (before the fix the session hung in a write forever and Node never exited).
const { test, before, after } = require('node:test')
const assert = require('node:assert/strict')
const net = require('node:net')

const { startServer, stopAll } = require('./helpers/server')
const { runNode } = require('./leanrt-common')

const APP = 'leanrtStall'
const FREEZE_AFTER = 64 * 1024
let srv
let relay
const sockets = []

before(async () => {
  srv = await startServer({ app: APP, args: ['--rate-limit', '0'] })
  let forwarded = 0
  let frozen = false
  relay = net.createServer((inbound) => {
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
})
after(async () => {
  for (const s of sockets) s.destroy()
  relay.close()
  await stopAll()
})

test('close() completes and Node exits against a peer that stopped reading', { timeout: 60000 }, async () => {
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
