'use strict'
// Fault (issue 6, 1d): the router is unreachable. The leanrt client emits `error` and keeps
// retrying with backoff (growing gaps between attempts); once a server listens on the
// router's port, the client connects by itself: the realtime() callback and `open` fire,
// and the connection works (ping answers). No uncaught exception.
const { test, after } = require('node:test')
const assert = require('node:assert/strict')
const net = require('node:net')

process.env.LEANRT_RECONNECT_DELAY_MS = '200'

const realtime = require('..')
const { startServer, stopAll } = require('./helpers/server')
const { cb, sleep, until } = require('./leanrt-common')

const APP = 'faultRouter'
const DOWN_MS = 2500
const T = { timeout: 30000 }

after(() => stopAll())

function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer()
    s.on('error', reject)
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address()
      s.close(() => resolve(port))
    })
  })
}

test('router down: error events with growing retry gaps, then connects when it is back', T, async () => {
  const uncaught = []
  const onUncaught = (e) => uncaught.push(e)
  process.on('uncaughtException', onUncaught)
  const port = await freePort()
  const errors = []
  let opened = 0
  let callback = 0
  const t0 = Date.now()
  const rt = realtime({ appId: APP, clientId: 'routerless', router: `http://127.0.0.1:${port}` }, () => callback++)
  try {
    rt.on('error', (e) => errors.push({ at: Date.now() - t0, message: e && e.message }))
    rt.on('open', () => opened++)
    await sleep(DOWN_MS)
    assert.equal(opened, 0, 'not open while the router is down')
    assert.ok(errors.length >= 3, `at least 3 error events in ${DOWN_MS} ms, got ${JSON.stringify(errors)}`)
    assert.ok(errors.length <= 12, `retries are spaced by backoff, got ${errors.length} in ${DOWN_MS} ms`)
    const gaps = errors.slice(1).map((e, k) => e.at - errors[k].at)
    assert.ok(gaps[gaps.length - 1] > gaps[0], `retry gaps grow: ${gaps.join(', ')} ms`)

    const back = Date.now()
    const srv = await startServer({ app: APP, port })
    await until(() => opened >= 1 && callback === 1, 'open after the router came back', 15000)
    const connectMs = Date.now() - back
    const online = await cb((done) => rt.ping('routerless', done), 5000, 'ping')
    assert.deepEqual(online, ['routerless'])
    console.log(
      `# fault-router-down: ${errors.length} error events in ${DOWN_MS} ms (gaps ${gaps.join(', ')} ms), ` +
        `connected ${connectMs} ms after the router came back on port ${srv.port}; first error: ${errors[0].message}`,
    )
    assert.deepEqual(uncaught.map((e) => e.stack), [], 'no uncaught exception')
  } finally {
    process.off('uncaughtException', onUncaught)
    rt.close()
  }
})
