'use strict'
// Shared by the leanrt-*.test.js files: clients against a real leanrt-server, bounded waits,
// and child processes.
const { spawn } = require('node:child_process')
const path = require('node:path')

const ROOT = path.join(__dirname, '..')
const STEP = 5000

/** Resolves with `value` of the first `fn(done)` callback, or rejects after `ms`. */
function cb(fn, ms = STEP, label = 'callback') {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${label} not called within ${ms} ms`)), ms)
    fn((value) => {
      clearTimeout(timer)
      resolve(value)
    })
  })
}

/** The next `name` event of `rt`. */
function nextEvent(rt, name, ms = STEP) {
  return cb((done) => rt.once(name, done), ms, `event ${name}`)
}

function sleep(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms))
}

/** Polls `pred` until true, or throws after `ms`. */
async function until(pred, label, ms = STEP) {
  const deadline = Date.now() + ms
  while (!pred()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${label}`)
    await sleep(10)
  }
}

/** Opened clients for one test, all closed by `closeAll()`. */
function clients(realtime, routerUrl, appId) {
  const open = []
  return {
    async connect(clientId, extra = {}) {
      let rt
      const opened = cb((done) => {
        rt = realtime(Object.assign({ appId, clientId, router: routerUrl }, extra), done)
      })
      await opened
      open.push(rt)
      return rt
    },
    /** Closes `rt` with the others. */
    track(rt) {
      open.push(rt)
      return rt
    },
    closeAll() {
      for (const rt of open.splice(0)) {
        try {
          rt.close()
        } catch (_) {}
      }
    },
  }
}

/** Runs `node -e script` with `env`; resolves {code, signal, stdout, stderr, ms}. */
function runNode(script, env = {}, ms = 20000) {
  return new Promise((resolve) => {
    const started = Date.now()
    const child = spawn(process.execPath, ['-e', script], {
      cwd: ROOT,
      env: Object.assign({}, process.env, env),
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (d) => (stdout += d))
    child.stderr.on('data', (d) => (stderr += d))
    const timer = setTimeout(() => child.kill('SIGKILL'), ms)
    child.on('exit', (code, signal) => {
      clearTimeout(timer)
      resolve({ code, signal, stdout, stderr, ms: Date.now() - started })
    })
  })
}

module.exports = { ROOT, cb, nextEvent, sleep, until, clients, runNode }
