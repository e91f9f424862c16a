'use strict'
// `npm test`: every Rust test, then every Node test, on the embedded SQLite store.
// With LEANRT_TEST_PG set (a postgres://USER@HOST:PORT URL of a server the tests may
// create databases on; `scripts/postgres.sh start DIR` makes one), the server's
// integration tests and the Node tests that exercise the store run once more on
// PostgreSQL; with LEANRT_TEST_REDIS (redis://HOST:PORT) as well, so do the cluster
// tests (several nodes). Every suite always runs; the exit code is non-zero if any
// failed.
const fs = require('node:fs')
const path = require('node:path')
const { run } = require('./run')

const root = path.join(__dirname, '..')
const pg = process.env.LEANRT_TEST_PG
const sqlite = Object.assign({}, process.env)
delete sqlite.LEANRT_TEST_PG
delete sqlite.LEANRT_TEST_REDIS
delete sqlite.LEANRT_REQUIRE_PG

const rust = run('cargo', ['test', '--workspace'], { cwd: root, env: sqlite })

const dir = path.join(root, '__test__')
const files = fs.readdirSync(dir).filter((f) => f.endsWith('.test.js')).sort().map((f) => path.join('__test__', f))
const node = run(process.execPath, ['--test', '--test-concurrency=1', ...files], { cwd: root, env: sqlite })

// The Node tests whose servers keep state: the 2.4.0 suite and compatibility checks,
// both current SDKs, the REST API, kill -9 durability, and docs/deploy.md's cluster.
const ON_POSTGRES = [
  'original-harness', 'original-compat', 'original-limits', 'original-signatures',
  'leanrt-api', 'fault-kill', 'rest-api', 'v3-sdks', 'v3-frames', 'v3-temporary', 'differential', 'deploy',
  'migrate-postgres'
].map((name) => path.join('__test__', `${name}.test.js`))

// The original 2.4.0 SDK's own suite and the compatibility suite, on two nodes.
const ON_TWO_NODES = ['original-harness', 'original-compat'].map((name) => path.join('__test__', `${name}.test.js`))

let postgres = 0
if (pg) {
  const server = run('cargo', ['test', '-p', 'leanrt-server', '--tests'], { cwd: root })
  const clients = run(process.execPath, ['--test', '--test-concurrency=1', ...ON_POSTGRES], { cwd: root })
  // With Redis too: the 2.4.0 suites once more, their clients spread over two nodes.
  const spread = process.env.LEANRT_TEST_REDIS
    ? run(process.execPath, ['--test', '--test-concurrency=1', ...ON_TWO_NODES], { cwd: root, env: Object.assign({}, process.env, { LEANRT_TEST_CLUSTER: '1' }) })
    : 0
  postgres = server || clients || spread
} else if (process.env.LEANRT_REQUIRE_PG) {
  console.error('LEANRT_REQUIRE_PG is set but LEANRT_TEST_PG is not')
  postgres = 1
} else {
  console.log('\nPostgreSQL tests skipped: set LEANRT_TEST_PG (see scripts/postgres.sh)')
}

const status = (code) => (code === 0 ? 'ok' : 'FAILED')
console.log(`\nrust tests: ${status(rust)}, node tests: ${status(node)}, on PostgreSQL: ${pg ? status(postgres) : 'skipped'}`)
process.exit(rust || node || postgres)
