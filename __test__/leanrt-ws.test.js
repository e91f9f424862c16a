'use strict'
// The injected transport: `realtime.config({WebSocket: require('ws')})` makes the same
// engine drive JS sockets of that class. (config is module-global, hence its own file.)
const { test, before, after } = require('node:test')
const assert = require('node:assert/strict')
const WebSocket = require('ws')

const realtime = require('..')
const { startServer, stopAll } = require('./helpers/server')
const { cb, until, runNode } = require('./leanrt-common')

const APP = 'leanrtWs'
const T = { timeout: 20000 }
let srv
let created = 0

class CountingWebSocket extends WebSocket {
  constructor(url) {
    super(url)
    created++
  }
}

before(async () => {
  srv = await startServer({ app: APP })
  realtime.config({ WebSocket: CountingWebSocket })
})
after(() => stopAll())

test('core scenario over the ws package', T, async () => {
  const open = (clientId) => {
    let rt
    return cb((done) => {
      rt = realtime({ appId: APP, clientId, router: srv.routerUrl }, () => done(rt))
    })
  }
  const alice = await open('wsAlice')
  const bob = await open('wsBob')
  assert.equal(created, 2, 'one JS socket per client')
  const room = await cb((done) => alice.room({ name: 'W', members: ['wsBob'] }, done))
  const got = []
  bob.on('message', (m) => got.push(m.msg))
  const receipts = []
  alice.on('receipt', (r) => receipts.push(r))
  const ack = await cb((done) => room.send('over ws', { receipt: true }, done))
  await until(() => got.length === 1 && receipts.length === 1, 'message and receipt')
  assert.equal(got[0], 'over ws')
  assert.equal(receipts[0].id, ack.uid)
  const logs = await cb((done) => room.log(done))
  assert.deepEqual(logs.map((l) => l.msg), ['over ws'])
  assert.deepEqual(await cb((done) => alice.ping(['wsBob'], done)), ['wsBob'])
  const closed = cb((done) => alice.once('close', done))
  alice.close()
  assert.equal((await closed).code, 1000)
  bob.close()
})

test('a ws-driven client lets the process exit after close()', T, async () => {
  const r = await runNode(
    `const realtime = require('.')
     realtime.config({ WebSocket: require('ws') })
     const rt = realtime({ appId: '${APP}', clientId: 'wsExit', router: '${srv.routerUrl}' }, () => rt.close())
     rt.on('close', (e) => console.log('close ' + e.code))`,
  )
  assert.equal(r.code, 0, r.stderr)
  assert.equal(r.stdout, 'close 1000\n')
})

test('close() during a reconnect handshake closes the JS socket, and the process exits', T, async () => {
  // The client opens through a proxy, which then drops it and swallows the next
  // handshakes (accepted, never answered). close() while one is in progress must close
  // that JS socket: the proxy sees it end, and Node exits.
  const r = await runNode(
    `const net = require('net')
     const realtime = require('.')
     realtime.config({ WebSocket: require('ws') })
     let swallow = false
     const held = []
     const proxy = net.createServer((down) => {
       down.unref()
       if (swallow) {
         held.push(down)
         console.log('handshake held')
         down.on('close', () => console.log('held socket closed'))
         down.on('data', () => {})
         if (held.length === 1) setTimeout(() => { rt.close(); proxy.close() }, 200)
         return
       }
       const up = net.connect(${srv.port}, '127.0.0.1')
       up.unref()
       down.pipe(up).pipe(down)
       down.on('error', () => {}); up.on('error', () => {})
       setTimeout(() => { swallow = true; down.destroy(); up.destroy() }, 300)
     })
     proxy.listen(0, '127.0.0.1', () => {
       rt = realtime({ appId: '${APP}', clientId: 'wsLeak', server: 'ws://127.0.0.1:' + proxy.address().port + '/' }, () => console.log('opened'))
       rt.on('error', (e) => console.log('error ' + e.message))
     })
     let rt`,
    { LEANRT_RECONNECT_DELAY_MS: '50' },
    10000,
  )
  assert.equal(r.signal, null, `the process did not exit by itself: ${r.stdout}${r.stderr}`)
  assert.equal(r.code, 0, r.stderr)
  const lines = r.stdout.trim().split('\n')
  assert.equal(lines[0], 'opened')
  assert.ok(lines.includes('handshake held'), r.stdout)
  assert.ok(lines.includes('held socket closed'), r.stdout)
  assert.deepEqual(lines.filter((l) => l.startsWith('error')), [], 'close() itself is no error')
})

/** Runs a client on an injected class defined by `classSource` (it may use `WS`, the
 * ws package); the child prints what it saw and must exit by itself. */
function misbehaving (classSource, body) {
  return runNode(
    `const realtime = require('.')
     const WS = require('ws')
     process.on('uncaughtException', (e) => { console.log('uncaught ' + e.message); process.exit(3) })
     ${classSource}
     realtime.config({ WebSocket: Bad })
     const rt = realtime({ appId: '${APP}', clientId: 'bad' + Math.random(), router: '${srv.routerUrl}' }, () => {
       console.log('opened')
       ${body}
     })
     rt.on('error', (e) => console.log('error ' + (e && e.message)))`,
    {},
    15000,
  )
}

test('an injected class whose send throws: an error event, no uncaught exception', T, async () => {
  const r = await misbehaving(
    `let sends = 0
     class Bad extends WS { send (t) { if (++sends > 1) throw new Error('send broke'); return super.send(t) } }`,
    `rt.room({ name: 'x', members: [] }, () => {})
     setTimeout(() => { rt.close(); setTimeout(() => process.exit(0), 100).unref() }, 500)`,
  )
  assert.equal(r.code, 0, r.stdout + r.stderr)
  const lines = r.stdout.trim().split('\n')
  assert.equal(lines[0], 'opened')
  assert.ok(lines.includes('error WebSocket send failed: send broke'), r.stdout)
  assert.ok(!lines.some((l) => l.startsWith('uncaught')), r.stdout)
})

test('an injected class without readyState is sent to, as 2.4.0 does', T, async () => {
  const r = await misbehaving(
    `class Bad {
       constructor (url) { this.ws = new WS(url) }
       addEventListener (name, fn) { this.ws.addEventListener(name, fn) }
       send (text) { this.ws.send(text) }
       close () { this.ws.close() }
     }`,
    `rt.ping(['nobody'], (list) => { console.log('ping ' + JSON.stringify(list)); rt.close() })`,
  )
  assert.equal(r.code, 0, r.stdout + r.stderr)
  assert.deepEqual(r.stdout.trim().split('\n'), ['opened', 'ping []'])
})

test('an injected class whose close throws, or never fires close: close() still ends, Node exits', T, async () => {
  for (const cls of [
    `class Bad extends WS { close () { throw new Error('close broke') } }`,
    // close() is ignored and no close event comes: after 5 s leanrt terminates it.
    `class Bad extends WS { close () {} }`
  ]) {
    const r = await misbehaving(cls, `rt.close(); console.log('closed')`)
    assert.equal(r.signal, null, `did not exit: ${r.stdout}`)
    assert.equal(r.code, 0, r.stdout + r.stderr)
    assert.deepEqual(r.stdout.trim().split('\n').filter((l) => !l.startsWith('error')), ['opened', 'closed'])
    assert.ok(!r.stdout.includes('uncaught'), r.stdout)
  }
})
