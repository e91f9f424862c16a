'use strict'
// Self-tests of the harness that drives the original 2.4.0 (helpers/server.js,
// helpers/original.js, helpers/trace.js): if these are wrong, the compatibility and differential
// suites prove nothing.
const { test, before, after } = require('node:test')
const assert = require('node:assert/strict')
const path = require('node:path')
const { spawn } = require('node:child_process')

const { startServer, stopAll, getJson } = require('./helpers/server')
const { originalFactory, closeAll, closeOne, realtime } = require('./helpers/original')
const { Trace, normalize } = require('./helpers/trace')

let srv

before(async () => {
  srv = await startServer({ app: 'harnessApp' })
})

after(async () => {
  await closeAll()
  await stopAll()
})

test('patched getServer keeps the original contract: URL shape, secure flag, region throw, expires', { timeout: 15000 }, async () => {
  const rt = originalFactory(srv.routerUrl)
  const opened = []
  const a = rt({ appId: 'harnessApp', clientId: 'h1' }, (f) => opened.push(f))
  const b = rt({ appId: 'harnessApp', clientId: 'h2', secure: false }, (f) => opened.push(f))
  try {
    const deadline = Date.now() + 5000
    while (opened.length < 2 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 10))
    assert.equal(opened.length, 2, 'both clients opened')
    assert.match(a.cache.lastRouterUrl, new RegExp(`^${srv.routerUrl}/v1/route\\?_t=\\d+&appId=harnessApp&secure=1$`))
    assert.match(b.cache.lastRouterUrl, new RegExp(`^${srv.routerUrl}/v1/route\\?_t=\\d+&appId=harnessApp$`))
    const ttl = (await getJson(`${srv.routerUrl}/v1/route?appId=harnessApp`)).json.ttl
    assert.ok(Math.abs(a.cache.server.expires - (Date.now() + ttl * 1000)) < 10000, 'expires = now + ttl*1000')
    assert.equal(typeof a.cache.server.server, 'string')
    assert.throws(() => rt({ appId: 'harnessApp', clientId: 'h3', region: 'eu' }), { message: 'There is no this region.' })
    assert.equal(realtime.version, '2.4.0', 'the real 2.4.0 is loaded')
  } finally {
    await closeOne(a)
    await closeOne(b)
  }
})

test('after close() a process running 2.4.0 through the harness exits by itself (timers contained)', { timeout: 20000 }, async () => {
  const script = `
    const { originalFactory } = require(${JSON.stringify(path.join(__dirname, 'helpers', 'original.js'))})
    const rt = originalFactory(process.argv[1])
    const c = rt({ appId: 'harnessApp', clientId: 'exit-check' }, () => {
      c.room({ name: 'x', members: [] }, () => { c.close(); console.log('closed') })
    })
  `
  const child = spawn(process.execPath, ['-e', script, srv.routerUrl], { stdio: ['ignore', 'pipe', 'pipe'] })
  let out = ''
  let err = ''
  child.stdout.on('data', (d) => { out += d })
  child.stderr.on('data', (d) => { err += d })
  const started = Date.now()
  const result = await new Promise((resolve) => {
    const timer = setTimeout(() => { child.kill('SIGKILL'); resolve('timeout') }, 10000)
    child.on('exit', (code) => { clearTimeout(timer); resolve(code) })
  })
  assert.equal(result, 0, `child exit (stdout: ${out}, stderr: ${err})`)
  assert.match(out, /closed/)
  assert.ok(Date.now() - started < 8000)
})

test('an uncaught exception from 2.4.0 (a conv/error frame from a stub server) is recorded and fails waitFor', { timeout: 20000 }, async () => {
  // Runs in a child process: inside node:test the runner itself also fails the current test on
  // an uncaught exception (good for the real suites, but it would fail this self-test).
  const script = `
        const { WebSocketServer } = require(${JSON.stringify(require.resolve('ws'))})
    const { originalFactory, closeOne, uncaught } = require(${JSON.stringify(path.join(__dirname, 'helpers', 'original.js'))})
    const { makeCtx, newPrefix } = require(${JSON.stringify(path.join(__dirname, 'helpers', 'scenarios.js'))})
    // A stub that misbehaves on purpose: it answers conv start with the legacy conv/error frame.
    const httpServer = http.createServer((req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' })
      res.end(JSON.stringify({ server: 'ws://127.0.0.1:' + httpServer.address().port + '/', ttl: 60 }))
    })
    const wss = new WebSocketServer({ server: httpServer })
    wss.on('connection', (ws) => ws.on('message', (d) => {
      const f = JSON.parse(String(d))
      if (f.op === 'open') ws.send(JSON.stringify({ cmd: 'session', op: 'opened', i: f.i, peerId: f.peerId }))
      if (f.op === 'start') ws.send(JSON.stringify({ cmd: 'conv', op: 'error', i: f.i, code: 4301, reason: 'BOOM', peerId: f.peerId }))
    }))
    httpServer.listen(0, '127.0.0.1', async () => {
      const rt = originalFactory('http://127.0.0.1:' + httpServer.address().port)
      const ctx = makeCtx(rt, { appId: 'stub', prefix: newPrefix(), uncaught, stepTimeout: 3000 })
      const c = await ctx.open('c')
      c.room({ name: 'x' }, () => {})
      let rejected = null
      await ctx.waitFor(() => false, 'never').catch((e) => { rejected = e.message.split('\\n')[0] })
      console.log(JSON.stringify({ rejected, uncaught: uncaught.map(String), errors: ctx.count('c', 'error') }))
      await closeOne(c)
      for (const ws of wss.clients) ws.terminate()
      wss.close()
      httpServer.close()
    })
  `
  const child = spawn(process.execPath, ['-e', script], { stdio: ['ignore', 'pipe', 'pipe'] })
  let out = ''
  let err = ''
  child.stdout.on('data', (d) => { out += d })
  child.stderr.on('data', (d) => { err += d })
  const code = await new Promise((resolve) => {
    const timer = setTimeout(() => { child.kill('SIGKILL'); resolve('timeout') }, 15000)
    child.on('exit', (c) => { clearTimeout(timer); resolve(c) })
  })
  assert.equal(code, 0, `child exit (stdout: ${out}, stderr: ${err})`)
  const r = JSON.parse(out.trim().split('\n').pop())
  assert.deepEqual(r.uncaught, ['4301:BOOM'])
  assert.match(r.rejected, /uncaught exception during scenario: 4301:BOOM/)
  assert.equal(r.errors, 1, '2.4.0 emits error, then throws')
})

test('trace normalization: prefixes stripped, ids by first appearance, times masked, i kept', () => {
  const tr = new Trace()
  tr.rec('bob', 'message', { cid: 'c-xyz', id: 'm-2', timestamp: 5, fromPeerId: 'P_alice', i: 3 })
  tr.rec('alice', 'ack', { uid: 'm-1', t: 1, i: 2017 })
  tr.rec('alice', 'room', { __room: true, id: 'c-xyz', name: 'R', attr: undefined })
  tr.rec('alice', 'results', [{ objectId: 'c-xyz', m: ['P_alice'], lm: { __type: 'Date', iso: 'x' }, other: ['m-2'] }])
  const n = normalize(tr, { prefix: 'P_' })
  assert.deepEqual(n, {
    alice: [
      ['ack', { i: 2017, t: '<time>', uid: '<M1>' }],
      ['room', { __room: true, attr: '<undefined>', id: '<C1>', name: 'R' }],
      ['results', [{ lm: '<time>', m: ['alice'], objectId: '<C1>', other: ['<M2>'] }]]
    ],
    bob: [
      ['message', { cid: '<C1>', fromPeerId: 'alice', i: 3, id: '<M2>', timestamp: '<time>' }]
    ]
  })
})

test('server helper: restart on the same port and db; SIGTERM stops it with exit code 0', { timeout: 30000 }, async () => {
  const s = await startServer({ app: 'h' })
  const port = s.port
  const r1 = await getJson(`${s.routerUrl}/v1/route?appId=h`)
  assert.equal(r1.status, 200)
  await s.restart()
  assert.equal(s.port, port, 'restarted on the same port')
  const r2 = await getJson(`${s.routerUrl}/v1/route?appId=h`)
  assert.equal(r2.status, 200)
  const stopped = await s.stop()
  assert.equal(stopped.forced, false, 'graceful shutdown finished within 5 s')
  assert.equal(stopped.code, 0, `SIGTERM exit code (signal ${stopped.signal})`)
  assert.equal(s.running, false)
})
