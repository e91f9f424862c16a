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
