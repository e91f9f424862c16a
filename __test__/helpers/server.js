'use strict'
// Starts a real leanrt-server child process for tests.
//
//   const { startServer } = require('./helpers/server')
//   const srv = await startServer({ app: 'APPID' })   // or app: 'APPID:MASTERKEY', or ['a', 'b:k']
//   srv.port, srv.routerUrl ('http://127.0.0.1:PORT'), srv.dbPath
//   await srv.kill('SIGKILL'); await srv.restart()     // same db file, same port if possible
//   await srv.stop()                                   // SIGTERM, then SIGKILL after 5 s
//
// The binary is target/debug/leanrt-server (`npm run build` or `cargo build -p leanrt-server`).
// LEANRT_SERVER_BIN overrides it. Every child is killed when the test process exits, and
// `stopAll()` is meant for `after` hooks. Nothing here ever waits without a time limit.
const { spawn } = require('node:child_process')
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')

const ROOT = path.join(__dirname, '..', '..')
const BIN = process.env.LEANRT_SERVER_BIN ||
  path.join(ROOT, 'target', 'debug', process.platform === 'win32' ? 'leanrt-server.exe' : 'leanrt-server')
const READY = /listening on http:\/\/([^\s/]+):(\d+)/
const START_TIMEOUT = 15000
const STOP_TIMEOUT = 5000

const live = new Set()
let databases = 0

function killLive () {
  for (const child of live) {
    try { child.kill('SIGKILL') } catch (_) {}
  }
}
process.on('exit', killLive)
// On a signal: kill the servers, then let the signal take its default course.
for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
  process.once(sig, () => {
    killLive()
    process.kill(process.pid, sig)
  })
}

function binaryPath () {
  return BIN
}

function binaryExists () {
  try {
    fs.accessSync(BIN, fs.constants.X_OK)
    return true
  } catch (_) {
    return false
  }
}

function spawnOnce (args, env, onExit) {
  return new Promise((resolve, reject) => {
    const child = spawn(BIN, args, {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: Object.assign({}, process.env, env || {})
    })
    live.add(child)
    let out = ''
    let err = ''
    let done = false
    const timer = setTimeout(() => {
      finish(new Error(`leanrt-server did not print "listening on http://HOST:PORT" within ${START_TIMEOUT} ms\nargs: ${args.join(' ')}\nstdout: ${out}\nstderr: ${err.slice(-4000)}`))
      try { child.kill('SIGKILL') } catch (_) {}
    }, START_TIMEOUT)
    function finish (e, v) {
      if (done) return
      done = true
      clearTimeout(timer)
      if (e) reject(e)
      else resolve(v)
    }
    child.stdout.setEncoding('utf8')
    child.stderr.setEncoding('utf8')
    child.stdout.on('data', (d) => {
      out += d
      const m = READY.exec(out)
      if (m) finish(null, { child, host: m[1], port: Number(m[2]), logs: () => ({ stdout: out, stderr: err }) })
    })
    child.stderr.on('data', (d) => {
      err += d
      if (err.length > 200000) err = err.slice(-100000)
    })
    child.on('error', (e) => {
      live.delete(child)
      finish(new Error(`cannot start ${BIN}: ${e.message} (build it with \`npm run build\` or \`cargo build -p leanrt-server\`)`))
    })
    child.on('exit', (code, signal) => {
      live.delete(child)
      finish(new Error(`leanrt-server exited (code ${code}, signal ${signal}) before listening\nargs: ${args.join(' ')}\nstdout: ${out}\nstderr: ${err.slice(-4000)}`))
      if (onExit) onExit(code, signal)
    })
  })
}

function waitExit (child, ms) {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) {
      resolve({ code: child.exitCode, signal: child.signalCode })
      return
    }
    const timer = setTimeout(() => resolve(null), ms)
    child.once('exit', (code, signal) => {
      clearTimeout(timer)
      resolve({ code, signal })
    })
  })
}

const servers = new Set()

/**
 * @param {object} [opts]
 * @param {string|string[]} [opts.app]  --app ID[:KEY], repeatable
 * @param {string[]} [opts.args]        extra CLI arguments
 * @param {object} [opts.env]           extra environment variables
 * @param {string} [opts.dbPath]        database file (default: a fresh temp dir + test.db, or with
 *                                      LEANRT_TEST_PG=postgres://USER@HOST:PORT a new database there)
 * @param {number} [opts.port]          port to listen on (default 0)
 */
async function startServer (opts = {}) {
  const { LEANRT_TEST_CLUSTER: cluster, LEANRT_TEST_PG: pg, LEANRT_TEST_REDIS: redis } = process.env
  if (cluster && pg && redis && !opts.dbPath && !opts.single) return startCluster(opts)
  if (!binaryExists()) {
    throw new Error(`leanrt-server binary not found at ${BIN}; run \`npm run build\` or \`cargo build -p leanrt-server\``)
  }
  let tmpDir = null
  let dbPath = opts.dbPath
  if (!dbPath && process.env.LEANRT_TEST_PG) {
    // A new PostgreSQL database on that server (the store creates it).
    dbPath = `${process.env.LEANRT_TEST_PG.replace(/\/+$/, '')}/n_${process.pid}_${++databases}_${Date.now()}`
  } else if (!dbPath) {
    tmpDir = fs.mkdtempSync(path.join(os.tmpdir(), 'leanrt-test-'))
    dbPath = path.join(tmpDir, 'test.db')
  }
  const apps = opts.app == null ? [] : [].concat(opts.app)
  const extra = opts.args || []
  const argsFor = (port) => {
    const a = ['--listen', `127.0.0.1:${port}`, '--db', dbPath]
    for (const app of apps) a.push('--app', app)
    return a.concat(extra)
  }

  const srv = {
    port: 0,
    host: '127.0.0.1',
    routerUrl: '',
    wsUrl: '',
    dbPath,
    child: null,
    exits: [], // {code, signal} for every child that exited
    logs: () => ({ stdout: '', stderr: '' }),
    get running () {
      return !!this.child && this.child.exitCode === null && this.child.signalCode === null
    },
    async kill (signal = 'SIGKILL') {
      const child = srv.child
      if (!child || child.exitCode !== null || child.signalCode !== null) return null
      child.kill(signal)
      const r = await waitExit(child, STOP_TIMEOUT)
      if (r) return r
      child.kill('SIGKILL')
      return waitExit(child, STOP_TIMEOUT)
    },
    // Graceful stop: SIGTERM, then SIGKILL if it did not exit within 5 s.
    // Resolves {code, signal, forced}.
    async stop () {
      const child = srv.child
      if (!child) return null
      if (child.exitCode !== null || child.signalCode !== null) {
        return { code: child.exitCode, signal: child.signalCode, forced: false }
      }
      child.kill('SIGTERM')
      let r = await waitExit(child, STOP_TIMEOUT)
      if (r) return Object.assign(r, { forced: false })
      child.kill('SIGKILL')
      r = await waitExit(child, STOP_TIMEOUT)
      return Object.assign(r || {}, { forced: true })
    },
    // Restart on the same db file, on the same port if it can be bound again, else on a new
    // one (routerUrl/port then change). Stops a running child gracefully first.
    async restart (restartOpts = {}) {
      if (srv.running) await srv.stop()
      const wanted = restartOpts.port != null ? restartOpts.port : srv.port
      let started
      let lastErr
      for (let attempt = 0; attempt < 10 && !started; attempt++) {
        try {
          started = await spawnOnce(argsFor(wanted), opts.env, onExit)
        } catch (e) {
          lastErr = e
          await new Promise((resolve) => setTimeout(resolve, 200))
        }
      }
      if (!started && !restartOpts.samePortOnly) {
        started = await spawnOnce(argsFor(0), opts.env, onExit)
      }
      if (!started) throw lastErr
      adopt(started)
      return srv
    },
    cleanup () {
      if (tmpDir) {
        try { fs.rmSync(tmpDir, { recursive: true, force: true }) } catch (_) {}
      }
    }
  }
  function onExit (code, signal) {
    srv.exits.push({ code, signal })
  }
  function adopt (started) {
    srv.child = started.child
    srv.port = started.port
    srv.host = started.host
    srv.routerUrl = `http://127.0.0.1:${started.port}`
    srv.wsUrl = `ws://127.0.0.1:${started.port}`
    srv.logs = started.logs
  }

  adopt(await spawnOnce(argsFor(opts.port || 0), opts.env, onExit))
  servers.add(srv)
  return srv
}

/**
 * With LEANRT_TEST_CLUSTER (and LEANRT_TEST_PG, LEANRT_TEST_REDIS) set, what
 * startServer returns instead: two nodes on one new PostgreSQL database and the run's
 * Redis, behind a TCP balancer in this process that sends HTTP requests and WebSocket
 * connections to the nodes in turn, so that a test's clients are spread over both.
 * Its port, routerUrl and wsUrl are the balancer's; kill, stop and restart act on
 * both nodes.
 */
async function startCluster (opts) {
  const net = require('node:net')
  const lb = net.createServer()
  await new Promise((resolve) => lb.listen(0, '127.0.0.1', resolve))
  const lbPort = lb.address().port
  const db = `${process.env.LEANRT_TEST_PG.replace(/\/+$/, '')}/c_${process.pid}_${++databases}_${Date.now()}`
  const args = [...(opts.args || []), '--redis', process.env.LEANRT_TEST_REDIS, '--public-url', `ws://127.0.0.1:${lbPort}/`]
  const nodes = []
  for (let n = 0; n < 2; n++) nodes.push(await startServer(Object.assign({}, opts, { dbPath: db, args, single: true })))
  const turns = { http: 0, ws: 0 }
  const sockets = new Set()
  lb.on('connection', (inbound) => {
    sockets.add(inbound)
    inbound.once('data', (first) => {
      const kind = /upgrade:\s*websocket/i.test(first.toString('latin1')) ? 'ws' : 'http'
      const node = nodes[turns[kind]++ % nodes.length]
      const upstream = net.connect(node.port, '127.0.0.1', () => {
        upstream.write(first)
        inbound.pipe(upstream).pipe(inbound)
      })
      sockets.add(upstream)
      const end = () => { inbound.destroy(); upstream.destroy() }
      inbound.on('error', end)
      upstream.on('error', end)
      inbound.on('close', end)
      upstream.on('close', end)
    })
  })
  const both = (f) => Promise.all(nodes.map(f))
  const srv = {
    port: lbPort,
    host: '127.0.0.1',
    routerUrl: `http://127.0.0.1:${lbPort}`,
    wsUrl: `ws://127.0.0.1:${lbPort}`,
    dbPath: db,
    nodes,
    get exits () { return nodes.flatMap((n) => n.exits) },
    get running () { return nodes.every((n) => n.running) },
    logs: () => ({ stdout: nodes.map((n) => n.logs().stdout).join(''), stderr: nodes.map((n) => n.logs().stderr).join('') }),
    kill: (signal) => both((n) => n.kill(signal)).then((r) => r[0]),
    stop: async () => {
      const r = await both((n) => n.stop())
      for (const s of sockets) s.destroy()
      lb.close()
      return r[0]
    },
    restart: async (restartOpts = {}) => {
      await both((n) => n.restart(restartOpts))
      return srv
    },
    cleanup: () => nodes.forEach((n) => n.cleanup()),
  }
  for (const n of nodes) servers.delete(n)
  servers.add(srv)
  return srv
}

// For `after` hooks: stop every server this process started and remove their temp dirs.
async function stopAll () {
  const all = [...servers]
  servers.clear()
  await Promise.all(all.map(async (s) => {
    try { await s.stop() } catch (_) {}
    s.cleanup()
  }))
}

// GET {routerUrl}/v1/route?... with node's http; resolves {status, headers, body, json}.
function getJson (url, timeoutMs = 5000) {
  const http = require('node:http')
  return new Promise((resolve, reject) => {
    const req = http.get(url, (res) => {
      let body = ''
      res.setEncoding('utf8')
      res.on('data', (d) => { body += d })
      res.on('end', () => {
        let json
        try { json = JSON.parse(body) } catch (_) {}
        resolve({ status: res.statusCode, headers: res.headers, body, json })
      })
    })
    req.setTimeout(timeoutMs, () => req.destroy(new Error(`GET ${url} timed out`)))
    req.on('error', reject)
  })
}

module.exports = { startServer, stopAll, binaryPath, binaryExists, getJson }
