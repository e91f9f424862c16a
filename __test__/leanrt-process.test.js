'use strict'
// leanrt in child processes: Node exits by itself after close() and when a client
// never opens, an unreferenced open client stays connected, a killed server gives close → reuse → open with no uncaught
// exception, a 50 ms heartbeat neither crashes nor drops, and a throwing listener
// surfaces its error without wedging the connection.
const { test, before, after } = require('node:test')
const assert = require('node:assert/strict')
const { spawn } = require('node:child_process')

const realtime = require('..')
const { startServer, stopAll } = require('./helpers/server')
const { ROOT, cb, until, runNode } = require('./leanrt-common')

const APP = 'leanrtProc'
const T = { timeout: 30000 }
let srv

before(async () => {
  srv = await startServer({ app: APP })
})
after(() => stopAll())

const env = () => ({ LEANRT_ROUTER: srv.routerUrl, LEANRT_SERVER: '' })

test('the process exits within 5 s after close()', T, async () => {
  const r = await runNode(
    `const realtime = require('.')
     const rt = realtime({ appId: '${APP}', clientId: 'exit1' }, () => {
       rt.close()
       console.log('closed', Date.now())
     })`,
    env(),
  )
  assert.equal(r.code, 0, r.stderr)
  const closedAt = Number(/closed (\d+)/.exec(r.stdout)[1])
  assert.ok(Date.now() - closedAt < 5000, `exited ${Date.now() - closedAt} ms after close()`)
})

test('server/router options given in code win over LEANRT_SERVER and LEANRT_ROUTER', T, async () => {
  const r = await runNode(
    `const realtime = require('.')
     const rt = realtime({ appId: '${APP}', clientId: 'precedence', router: '${srv.routerUrl}' }, () => {
       console.log('opened')
       rt.close()
     })`,
    { LEANRT_SERVER: 'ws://127.0.0.1:9/', LEANRT_ROUTER: 'http://127.0.0.1:9' },
    10000,
  )
  assert.equal(r.code, 0, r.stderr)
  assert.match(r.stdout, /opened/)
})

test('the process exits when nothing was opened', T, async () => {
  const r = await runNode(
    `const realtime = require('.')
     realtime.config({ heartbeatsTime: 1000 })
     realtime._tool.eventCenter().on('x', () => {}).emit('x')
     console.log('loaded')`,
    env(),
    5000,
  )
  assert.equal(r.code, 0, r.stderr)
  assert.match(r.stdout, /loaded/)
})

test('a client that never opens lets the process exit, with an error event', T, async () => {
  const r = await runNode(
    `const realtime = require('.')
     const rt = realtime({ appId: '${APP}', clientId: 'nowhere', server: 'ws://127.0.0.1:9/' })
     rt.on('error', (e) => console.log('error ' + (e instanceof Error)))
     rt.on('open', () => console.log('open'))`,
    {},
    10000,
  )
  assert.equal(r.code, 0, r.stderr)
  assert.equal(r.stdout, 'error true\n')
  assert.ok(r.ms < 5000, `took ${r.ms} ms`)
})

test('an unreferenced open client stays connected', T, async () => {
  const child = runNode(
    `const realtime = require('.')
     realtime({ appId: '${APP}', clientId: 'orphan' }, () => console.log('open'))
       .on('message', (m) => { console.log('got', m.msg); process.exit(0) })
     setTimeout(() => global.gc(), 200)`,
    Object.assign(env(), { NODE_OPTIONS: '--expose-gc' }),
  )
  let sender
  await cb((done) => {
    sender = realtime({ appId: APP, clientId: 'orphanSender', router: srv.routerUrl }, done)
  })
  const room = await cb((done) => sender.room({ members: ['orphan'] }, done))
  // Keep sending until the child (which may still be connecting) gets one.
  const timer = setInterval(() => room.send('ping', () => {}), 300)
  const r = await child
  clearInterval(timer)
  sender.close()
  assert.equal(r.code, 0, r.stderr)
  assert.match(r.stdout, /got ping/)
})

async function killAndRestart(prelude) {
  const child = spawn(
    process.execPath,
    [
      '-e',
      `const realtime = require('.')
       ${prelude}
       process.on('uncaughtException', (e) => { console.log('UNCAUGHT ' + e.message); process.exit(3) })
       const rt = realtime({ appId: '${APP}', clientId: 'phoenix' })
       let opens = 0
       for (const name of ['open', 'close', 'reuse', 'error']) rt.on(name, () => {
         console.log(name)
         if (name === 'open' && ++opens === 2) rt.ping('phoenix', (on) => { console.log('online ' + on.join()); rt.close() })
       })`,
    ],
    { cwd: ROOT, env: Object.assign({}, process.env, env(), { LEANRT_RECONNECT_DELAY_MS: '300' }), stdio: ['ignore', 'pipe', 'pipe'] },
  )
  let out = ''
  let err = ''
  child.stdout.on('data', (d) => (out += d))
  child.stderr.on('data', (d) => (err += d))
  const exited = new Promise((resolve) => child.on('exit', resolve))
  try {
    await until(() => out.includes('open'), 'first open', 10000)
    await srv.kill('SIGKILL')
    await until(() => out.includes('reuse'), 'reuse', 10000)
    await srv.restart()
    const code = await Promise.race([exited, new Promise((resolve) => setTimeout(() => resolve('timeout'), 20000))])
    assert.equal(code, 0, `stdout: ${out}\nstderr: ${err}`)
  } finally {
    child.kill('SIGKILL')
  }
  const lines = out.trim().split('\n').filter((l) => l !== 'error')
  assert.deepEqual(lines, ['open', 'close', 'reuse', 'open', 'online phoenix', 'close'])
}

test('a killed server gives close, reuse, then open after restart', T, () => killAndRestart(''))

test('the same over an injected ws transport', T, () =>
  killAndRestart("realtime.config({ WebSocket: require('ws') })"),
)

test('a 50 ms heartbeat on an idle connection neither crashes nor drops', T, async () => {
  const r = await runNode(
    `const realtime = require('.')
     realtime.config({ heartbeatsTime: 50 })
     const rt = realtime({ appId: '${APP}', clientId: 'beat' })
     rt.on('close', () => console.log('close'))
     rt.on('reuse', () => console.log('reuse'))
     rt.on('open', () => setTimeout(() => rt.ping('beat', (on) => { console.log('online ' + on.join()); rt.close() }), 1500))`,
    env(),
  )
  assert.equal(r.code, 0, r.stderr)
  assert.equal(r.stdout, 'online beat\nclose\n')
})

// A child whose first `message` listener call throws; it prints what it sees and closes
// after the second message.
function throwingChild (clientId) {
  return runNode(
    `const realtime = require('.')
     process.on('uncaughtException', (e) => console.log('uncaught ' + e.message))
     const rt = realtime({ appId: '${APP}', clientId: '${clientId}' }, () => console.log('open'))
     let n = 0
     rt.on('message', (m) => {
       console.log('got ' + m.msg)
       if (++n === 1) throw new Error('listener bug')
       rt.close()
     })`,
    env(),
  )
}

async function throwerRoom (clientId) {
  const sender = await cb((done) => {
    const rt = realtime({ appId: APP, clientId: clientId + 'Sender', router: srv.routerUrl }, () => done(rt))
  })
  const room = await cb((done) => sender.room({ members: [clientId] }, done))
  return { sender, room }
}

const THROWER_OUTPUT = ['open', 'got one', 'uncaught listener bug', 'got two']

test('a throwing listener surfaces its error and the connection keeps working', T, async () => {
  const child = throwingChild('thrower')
  const { sender, room } = await throwerRoom('thrower')
  // Live: wait until the child's session is online, then send.
  const deadline = Date.now() + 10000
  while ((await cb((done) => sender.ping(['thrower'], done))).length === 0) {
    assert.ok(Date.now() < deadline, 'the child logs in')
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
  await cb((done) => room.send('one', done))
  await cb((done) => room.send('two', done))
  const r = await child
  sender.close()
  assert.equal(r.code, 0, r.stderr)
  assert.deepEqual(r.stdout.trim().split('\n'), THROWER_OUTPUT)
})

test('a listener that throws mid-batch: its error surfaces first, then the rest of the batch comes', T, async () => {
  // Both messages wait offline, so the login delivers them in one batch. (2.4.0 loses the
  // frames of a read after a throwing listener: it would print no 'got two'.)
  const { sender, room } = await throwerRoom('batchThrower')
  await cb((done) => room.send('one', done))
  await cb((done) => room.send('two', done))
  const r = await throwingChild('batchThrower')
  sender.close()
  assert.equal(r.code, 0, r.stderr)
  assert.deepEqual(r.stdout.trim().split('\n'), THROWER_OUTPUT)
})

test('destroy() stops a client that never opened: no more attempts, and Node may exit', T, async () => {
  // The router is a closed port: every attempt fails with an `error` event. A timer
  // keeps Node alive, so only destroy() can stop the attempts.
  const r = await runNode(
    `const net = require('net')
     const dead = net.createServer()
     dead.listen(0, '127.0.0.1', () => {
       const port = dead.address().port
       dead.close(() => {
         const realtime = require('.')
         const rt = realtime({ appId: '${APP}', clientId: 'neverOpens', router: 'http://127.0.0.1:' + port })
         let errors = 0
         rt.on('error', () => errors++)
         setTimeout(() => {
           console.log('before ' + (errors > 0))
           try { rt.close() } catch (e) { console.log('close throws ' + e.message) }
           rt.destroy()
           const at = errors
           setTimeout(() => { console.log('after ' + (errors - at)); rt.destroy() }, 1500)
         }, 600)
       })
     })`,
    { LEANRT_RECONNECT_DELAY_MS: '50', LEANRT_ROUTER: '', LEANRT_SERVER: '' },
  )
  assert.equal(r.code, 0, r.stderr)
  assert.deepEqual(r.stdout.trim().split('\n'), ['before true', 'close throws Must call after open() has successed.', 'after 0'])
})

test('destroy() on an open client is close()', T, async () => {
  const r = await runNode(
    `const realtime = require('.')
     const rt = realtime({ appId: '${APP}', clientId: 'destroyOpen' }, () => rt.destroy().destroy())
     rt.on('close', (e) => console.log('close ' + e.code))`,
    env(),
  )
  assert.equal(r.code, 0, r.stderr)
  assert.equal(r.stdout, 'close 1000\n')
})
