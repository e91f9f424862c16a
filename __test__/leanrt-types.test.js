'use strict'
// index.d.ts and promises.d.ts give real types: typical programs compile under `tsc --strict`.
const { test } = require('node:test')
const assert = require('node:assert/strict')
const { spawnSync } = require('node:child_process')
const path = require('node:path')

const ROOT = path.join(__dirname, '..')

/** Runs tsc with `args` (paths relative to the package root) and asserts that it passes. */
function compiles(...args) {
  const tsc = path.join(ROOT, 'node_modules', '.bin', 'tsc')
  const r = spawnSync(tsc, ['--noEmit', '--strict', ...args], { cwd: ROOT, encoding: 'utf8' })
  assert.equal(r.status, 0, r.stdout + r.stderr)
}

const NODENEXT = ['--module', 'nodenext', '--moduleResolution', 'nodenext']

test('types-sample.ts compiles with tsc --noEmit --strict', { timeout: 60000 }, () => {
  compiles(path.join('__test__', 'types-sample.ts'))
})

test('the ESM entry types compile: named and default import (tsc --module nodenext)', { timeout: 60000 }, () => {
  compiles(...NODENEXT, path.join('__test__', 'types-esm.mts'))
})

test('leanrt/promises types: types-promises.ts compiles with tsc --noEmit --strict', { timeout: 60000 }, () => {
  compiles('--target', 'es2022', '--module', 'commonjs', path.join('__test__', 'types-promises.ts'))
})

test('leanrt/promises types of the ESM entry compile (tsc --module nodenext)', { timeout: 60000 }, () => {
  compiles(...NODENEXT, path.join('__test__', 'types-promises-esm.mts'))
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
