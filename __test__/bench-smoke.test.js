'use strict'
// Runs the benchmark once at a tiny size so that it cannot rot. No timing is asserted:
// only that every measure produced a number for every contender, positive except for
// memory deltas, which are noise at this size and may come out below zero.
const { test } = require('node:test')
const assert = require('node:assert')
const { spawnSync } = require('node:child_process')
const fs = require('node:fs')
const path = require('node:path')

const root = path.join(__dirname, '..')

test('npm run bench works at smoke size and fills every cell', { timeout: 240000 }, () => {
  const r = spawnSync(process.execPath, [path.join(root, 'bench', 'run.js'), '--smoke'], { cwd: root, encoding: 'utf8', timeout: 230000 })
  assert.strictEqual(r.status, 0, `bench failed:\n${r.stderr}\n${r.stdout}`)
  const results = JSON.parse(fs.readFileSync(path.join(root, 'bench', 'results-smoke.json'), 'utf8'))
  const clientMeasures = Object.entries(results.client)
  assert.strictEqual(clientMeasures.length, 9)
  for (const [measure, by] of clientMeasures) {
    assert.deepStrictEqual(Object.keys(by).sort(), ['leanrt', 'orig', 'orig-ws8'], measure)
    for (const [who, v] of Object.entries(by)) assert.ok(Number.isFinite(v) && (v > 0 || /RSS/.test(measure)), `${measure} / ${who} = ${v}`)
  }
  const serverMeasures = Object.entries(results.server)
  // Fan-out, paced fan-out and ingest on disk and on /dev/shm, then the large file,
  // idle memory, the login push and the scans, and the plain ws 8 memory floor.
  assert.strictEqual(serverMeasures.length, 25)
  for (const [measure, by] of serverMeasures) {
    const v = by.server ?? by.ws8
    assert.ok(Number.isFinite(v) && (v > 0 || /RSS/.test(measure)), `${measure} = ${v}`)
  }
  // Fan-out and ingest with v2 JSON and with v3 protobuf clients (CPU may round to 0
  // at this size: /proc counts 10 ms ticks).
  const protocolMeasures = Object.entries(results.protocols)
  assert.strictEqual(protocolMeasures.length, 6)
  for (const [measure, by] of protocolMeasures) {
    assert.deepStrictEqual(Object.keys(by).sort(), ['v2', 'v3'], measure)
    for (const [who, v] of Object.entries(by)) assert.ok(Number.isFinite(v) && (v > 0 || /CPU/.test(measure)), `${measure} / ${who} = ${v}`)
  }
  assert.match(r.stdout, /\| Inbound messages\/s \|/)
  assert.match(r.stdout, /\| Protocol measure \| v2 JSON clients \| v3 protobuf clients \|/)
})
