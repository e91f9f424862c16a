'use strict'
// Fault (issue 6, 1b): a reconnect storm. N leanrt clients (in a child process, so that
// its uncaught exceptions and RSS are the clients' alone) stay connected while the server
// is SIGKILLed and restarted R times at random intervals on the same db file and port.
// Asserts: every client ends connected, listeners are intact (one message after the
// storm reaches every other client exactly once), the child's RSS does not keep growing
// (bounded growth between the first quarter of the storm and its end), no uncaught
// exception in the child.
//
// Default scale: 20 restarts with 50 clients (issue 6), about 15-25 s here.
// FAULT_STORM_CLIENTS / FAULT_STORM_RESTARTS change it, e.g. 200 clients, 50 restarts.
const { test, before, after } = require('node:test')
const assert = require('node:assert/strict')
const { spawn } = require('node:child_process')
const path = require('node:path')
const readline = require('node:readline')

const { startServer, stopAll } = require('./helpers/server')
const { ROOT, sleep } = require('./leanrt-common')

const APP = 'faultStorm'
const N = Number(process.env.FAULT_STORM_CLIENTS) || 50
const RESTARTS = Number(process.env.FAULT_STORM_RESTARTS) || 20
// RSS growth allowed from the first quarter of the storm to its end.
const RSS_SLACK = 48 * 1024 * 1024
const T = { timeout: 120000 }

let srv
before(async () => {
  srv = await startServer({ app: APP })
})
after(async () => {
  if (srv && srv.running) {
    const t0 = Date.now()
    const r = await srv.stop()
    console.log(`# fault-storm: server SIGTERM stop took ${Date.now() - t0} ms: ${JSON.stringify(r)}`)
  }
  await stopAll()
})

function clientsProcess() {
  const child = spawn(process.execPath, [path.join(__dirname, 'helpers', 'fault-clients.js'), srv.routerUrl, APP, String(N), 'storm'], {
    cwd: ROOT,
    env: Object.assign({}, process.env, { LEANRT_RECONNECT_DELAY_MS: '100' }),
    stdio: ['pipe', 'pipe', 'pipe'],
  })
  let stderr = ''
  child.stderr.on('data', (d) => (stderr += d))
  const waiting = new Map()
  const events = []
  let nextId = 1
  readline.createInterface({ input: child.stdout }).on('line', (line) => {
    let msg
    try {
      msg = JSON.parse(line)
    } catch (_) {
      return
    }
    if (msg.id && waiting.has(msg.id)) {
      waiting.get(msg.id)(msg)
      waiting.delete(msg.id)
    } else events.push(msg)
  })
  const exited = new Promise((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })))
  return {
    child,
    exited,
    stderr: () => stderr,
    request(cmd, extra = {}, ms = 10000) {
      const id = nextId++
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => {
          waiting.delete(id)
          reject(new Error(`child did not answer ${cmd} within ${ms} ms; stderr: ${stderr.slice(-2000)}`))
        }, ms)
        waiting.set(id, (msg) => {
          clearTimeout(timer)
          resolve(msg)
        })
        child.stdin.write(JSON.stringify(Object.assign({ id, cmd }, extra)) + '\n')
      })
    },
    async event(ev, ms) {
      const deadline = Date.now() + ms
      while (Date.now() < deadline) {
        const found = events.find((e) => e.ev === ev || e.ev === 'fatal')
        if (found) return found
        await sleep(20)
      }
      throw new Error(`child sent no ${ev} within ${ms} ms; stderr: ${stderr.slice(-2000)}`)
    },
  }
}

const rand = (lo, hi) => lo + Math.floor(Math.random() * (hi - lo))

test(`reconnect storm: ${RESTARTS} SIGKILL restarts with ${N} clients`, T, async () => {
  const clients = clientsProcess()
  try {
    const ready = await clients.event('ready', 30000)
    assert.equal(ready.ev, 'ready', JSON.stringify(ready))

    const rss = []
    const started = Date.now()
    for (let r = 1; r <= RESTARTS; r++) {
      await sleep(rand(100, 700))
      await srv.kill('SIGKILL')
      await sleep(rand(20, 300))
      await srv.restart({ samePortOnly: true })
      if (r === Math.ceil(RESTARTS / 4) || r === RESTARTS) rss.push((await clients.request('status')).rss)
    }
    const stormMs = Date.now() - started

    // Every client ends connected.
    let status
    const deadline = Date.now() + 30000
    do {
      await sleep(200)
      status = await clients.request('status')
    } while (status.connected < N && Date.now() < deadline)
    assert.equal(status.connected, N, `connected after the storm: ${JSON.stringify(status)}`)

    // Listeners intact: one message reaches every other client exactly once.
    const text = 'after-storm-' + Date.now()
    const sent = await clients.request('send', { text })
    assert.ok(sent.acked, JSON.stringify(sent))
    let counts
    const until = Date.now() + 10000
    do {
      await sleep(100)
      counts = (await clients.request('count', { text })).counts
    } while (counts.some((c) => c < 1) && Date.now() < until)
    await sleep(500)
    counts = (await clients.request('count', { text })).counts
    assert.deepEqual(counts, new Array(N - 1).fill(1), 'every other client got the message exactly once')

    status = await clients.request('status')
    const [warm, end] = rss
    console.log(
      `# fault-storm: ${RESTARTS} restarts in ${stormMs} ms, ${N} clients, ${status.opens} re-opens, ` +
        `${status.closes} closes, ${status.errors} error events, uncaught ${status.uncaught}, ` +
        `child RSS ${(warm / 1048576).toFixed(1)} MB after ${Math.ceil(RESTARTS / 4)} restarts -> ${(end / 1048576).toFixed(1)} MB at the end`,
    )
    assert.equal(status.uncaught, 0, `uncaught exceptions in the clients: ${status.uncaughtMessages.join('\n')}`)
    assert.ok(end - warm < RSS_SLACK, `RSS grew by ${((end - warm) / 1048576).toFixed(1)} MB during the storm`)

    await clients.request('close')
    let timer
    const exit = await Promise.race([clients.exited, new Promise((resolve) => (timer = setTimeout(resolve, 10000, 'timeout')))])
    clearTimeout(timer)
    assert.deepEqual(exit, { code: 0, signal: null }, `the clients' process exits after close(): ${clients.stderr().slice(-2000)}`)
  } finally {
    clients.child.kill('SIGKILL')
  }
})
