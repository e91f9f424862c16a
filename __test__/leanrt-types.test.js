'use strict'
// index.d.ts gives real types: a typical 2.4.0 program compiles under `tsc --strict`.
const { test } = require('node:test')
const assert = require('node:assert/strict')
const { spawnSync } = require('node:child_process')
const path = require('node:path')

const ROOT = path.join(__dirname, '..')

test('types-sample.ts compiles with tsc --noEmit --strict', { timeout: 60000 }, () => {
  const tsc = path.join(ROOT, 'node_modules', '.bin', 'tsc')
  const r = spawnSync(tsc, ['--noEmit', '--strict', path.join('__test__', 'types-sample.ts')], {
    cwd: ROOT,
    encoding: 'utf8',
  })
  assert.equal(r.status, 0, r.stdout + r.stderr)
})
