'use strict'
// The set-up shared by the test files that drive the original 2.4.0: one leanrt-server
// per file, 2.4.0 pointed at it, and per test a context whose clients are closed
// afterwards and during which 2.4.0 must have thrown nothing uncaught.
const { before, after } = require('node:test')
const assert = require('node:assert/strict')

const { startServer, stopAll } = require('./server')
const { originalFactory, closeAll, closeOne, uncaught, assertNoUncaught } = require('./original')
const { makeCtx, newPrefix } = require('./scenarios')

/**
 * Registers the file's before/after hooks. `app` is the server's `--app` value
 * (`ID` or `ID:MASTER_KEY`). Returns `{srv, rt, newCtx(t)}`; `srv` and `rt` are set
 * once the `before` hook ran, and tests may replace `rt` (e.g. after a restart).
 */
function originalSuite({ appId, app = appId }) {
  const suite = { srv: null, rt: null, newCtx }
  before(async () => {
    suite.srv = await startServer({ app })
    suite.rt = originalFactory(suite.srv.routerUrl)
  })
  after(async () => {
    await closeAll()
    await stopAll()
    assertNoUncaught(assert)
  })
  // Each test closes its own clients (a root afterEach would also run after every
  // subtest) and fails if 2.4.0 threw anything uncaught while it ran.
  function newCtx(t) {
    const ctx = makeCtx(suite.rt, { appId, prefix: newPrefix(), uncaught, stepTimeout: 4000 })
    const since = uncaught.length
    t.after(async () => {
      await Promise.all(ctx.clients.map((c) => closeOne(c)))
      assertNoUncaught(assert, since)
    })
    return ctx
  }
  return suite
}

module.exports = { originalSuite }
