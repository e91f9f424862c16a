'use strict'
// Runs `npm run bench:stores` once at a tiny size so that it cannot rot: it starts
// its own PostgreSQL servers (scripts/postgres.sh) and a Redis, so it needs both
// installed, and skips with a message where they are not. No timing is asserted: only that every
// measure produced a number for both stores, and that what must be positive is.
const { test } = require('node:test')
const assert = require('node:assert')
const { spawnSync } = require('node:child_process')
const fs = require('node:fs')
const path = require('node:path')

const root = path.join(__dirname, '..')
const installed = spawnSync(path.join(root, 'scripts', 'postgres.sh'), ['version']).status === 0 &&
  spawnSync('redis-server', ['--version']).status === 0

test('npm run bench:stores works at smoke size and fills every cell', { timeout: 240000, skip: !installed && 'PostgreSQL or Redis is not installed' }, () => {
  const r = spawnSync(process.execPath, [path.join(root, 'bench', 'stores.js'), '--smoke'], { cwd: root, encoding: 'utf8', timeout: 230000 })
  assert.strictEqual(r.status, 0, `bench failed:\n${r.stderr}\n${r.stdout}`)
  const { measures, cluster } = JSON.parse(fs.readFileSync(path.join(root, 'bench', 'stores-smoke.json'), 'utf8'))
  // One node against two: rates, latencies and CPU (Redis has none on one node).
  assert.strictEqual(Object.keys(cluster).length, 5)
  for (const [measure, by] of Object.entries(cluster)) {
    assert.deepStrictEqual(Object.keys(by).sort(), ['one', 'two'], measure)
    for (const [who, v] of Object.entries(by)) {
      assert.ok(Number.isFinite(v) && v >= 0, `${measure} / ${who} = ${v}`)
      if (!/CPU/.test(measure)) assert.ok(v > 0, `${measure} / ${who} = ${v}`)
    }
  }
  const rows = Object.entries(measures)
  // Eleven measures on the disk, eleven on /dev/shm.
  assert.strictEqual(rows.length, fs.existsSync('/dev/shm') ? 22 : 11)
  for (const [measure, by] of rows) {
    assert.deepStrictEqual(Object.keys(by).sort(), ['postgres', 'sqlite'], measure)
    for (const [store, v] of Object.entries(by)) {
      assert.ok(Number.isFinite(v) && v >= 0, `${measure} / ${store} = ${v}`)
      // CPU is counted in 10 ms ticks and may round to 0 at this size; /dev/shm writes
      // count nothing; SQLite has no database server and no PostgreSQL WAL.
      const mayBeZero = /CPU|\/dev\/shm/.test(measure) && /bytes written|CPU/.test(measure)
      const none = store === 'sqlite' && /database server|WAL/.test(measure)
      if (!mayBeZero && !none) assert.ok(v > 0, `${measure} / ${store} = ${v}`)
    }
  }
  assert.ok(measures['Ingest: PostgreSQL WAL bytes per message, disk'].postgres > 100, 'PostgreSQL logged the messages')
  assert.match(r.stdout, /\| Measure \| SQLite \| PostgreSQL \| PostgreSQL ÷ SQLite \|/)
})
