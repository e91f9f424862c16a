'use strict'
// Starts leanrt-server as a child process on a free port and resolves once it prints
// its `listening on http://HOST:PORT` line.
const path = require('node:path')
const fs = require('node:fs')
const { spawn } = require('node:child_process')

const root = path.join(__dirname, '..')

/** The cargo-built server binary, release first. */
function serverBinary() {
  const exe = process.platform === 'win32' ? 'leanrt-server.exe' : 'leanrt-server'
  for (const profile of ['release', 'debug']) {
    const bin = path.join(root, 'target', profile, exe)
    if (fs.existsSync(bin)) return bin
  }
  return null
}

function startServer({ db, args = [] }) {
  const bin = serverBinary()
  if (!bin) return Promise.reject(new Error('leanrt-server is not built (run `npm run build`)'))
  const child = spawn(bin, ['--listen', '127.0.0.1:0', '--db', db, ...args], { stdio: ['ignore', 'pipe', 'inherit'] })
  return new Promise((resolve, reject) => {
    let out = ''
    const timer = setTimeout(() => fail(new Error('leanrt-server did not start within 20 s')), 20000)
    function fail(err) {
      clearTimeout(timer)
      child.kill('SIGKILL')
      reject(err)
    }
    child.on('exit', (code) => fail(new Error(`leanrt-server exited with code ${code} before listening`)))
    child.stdout.on('data', (chunk) => {
      out += chunk
      const m = /listening on (http:\/\/\S+)/.exec(out)
      if (!m) return
      clearTimeout(timer)
      child.removeAllListeners('exit')
      child.stdout.resume()
      resolve({
        url: m[1],
        stop: () =>
          new Promise((done) => {
            if (child.exitCode !== null) return done(child.exitCode)
            child.once('exit', (code) => done(code))
            child.kill('SIGTERM')
          }),
      })
    })
  })
}

module.exports = { startServer }
