'use strict'
// `npx leanrt-server` runs bin/leanrt-server.js, which runs the server linked into the
// addon. Checks --help, a real start with a router answer, and a clean SIGTERM exit.
const { test } = require('node:test')
const assert = require('node:assert')
const { spawn, spawnSync } = require('node:child_process')
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')

const bin = path.join(__dirname, '..', 'bin', 'leanrt-server.js')

test('leanrt-server --help prints the flags and exits 0', () => {
  const r = spawnSync(process.execPath, [bin, '--help'], { encoding: 'utf8', timeout: 20000 })
  assert.strictEqual(r.status, 0, r.stderr)
  for (const flag of ['--listen', '--db', '--app', '--public-url', '--max-connections', '--log']) assert.match(r.stdout, new RegExp(flag))
})

test('leanrt-server starts, routes, and exits 0 on SIGTERM', { timeout: 30000 }, async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'leanrt-bin-'))
  const child = spawn(process.execPath, [bin, '--listen', '127.0.0.1:0', '--db', path.join(dir, 'x.db'), '--app', 'binapp'], { stdio: ['ignore', 'pipe', 'pipe'] })
  try {
    const url = await new Promise((resolve, reject) => {
      let out = ''
      child.stdout.on('data', (c) => {
        out += c
        const m = /listening on (http:\/\/\S+)/.exec(out)
        if (m) resolve(m[1])
      })
      child.on('exit', (code) => reject(new Error(`exited ${code} before listening`)))
    })
    const res = await fetch(`${url}/v1/route?appId=binapp&_t=1`)
    assert.strictEqual(res.status, 200)
    const route = await res.json()
    assert.strictEqual(route.server, `${url.replace('http://', 'ws://')}/`)
    assert.ok(route.ttl > 0)
    const code = await new Promise((resolve) => {
      child.removeAllListeners('exit')
      child.on('exit', (c, sig) => resolve(c ?? sig))
      child.kill('SIGTERM')
    })
    assert.strictEqual(code, 0)
    assert.ok(fs.existsSync(path.join(dir, 'x.db')), 'the data file was created')
  } finally {
    child.kill('SIGKILL')
    fs.rmSync(dir, { recursive: true, force: true })
  }
})
