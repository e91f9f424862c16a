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

test('the ESM entry types compile: named and default import (tsc --module nodenext)', { timeout: 60000 }, () => {
  const tsc = path.join(ROOT, 'node_modules', '.bin', 'tsc')
  const args = ['--noEmit', '--strict', '--module', 'nodenext', '--moduleResolution', 'nodenext', path.join('__test__', 'types-esm.mts')]
  const r = spawnSync(tsc, args, { cwd: ROOT, encoding: 'utf8' })
  assert.equal(r.status, 0, r.stdout + r.stderr)
})

test('import { realtime } and the default import give the one CommonJS export', { timeout: 20000 }, () => {
  // By the package's own name, so that the `exports` map is what resolves it.
  const script = `
    import { realtime } from 'leanrt'
    import realtimeDefault from 'leanrt'
    import { createRequire } from 'node:module'
    const required = createRequire(import.meta.url)('leanrt')
    console.log(JSON.stringify([typeof realtime, realtime === realtimeDefault, realtime === required, realtime.realtime === realtime]))
  `
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], { cwd: ROOT, encoding: 'utf8' })
  assert.equal(r.status, 0, r.stderr)
  assert.deepEqual(JSON.parse(r.stdout), ['function', true, true, true])
})
