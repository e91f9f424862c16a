#!/usr/bin/env node
'use strict'
// `npx leanrt-server [flags]`: runs leanrt-server. The server is linked into the
// leanrt native addon, so an installed package needs no separate executable. In a
// development checkout whose addon predates that, the cargo-built binary is used.
const fs = require('node:fs')
const path = require('node:path')
const { spawn } = require('node:child_process')

const args = process.argv.slice(2)

function fromAddon() {
  try {
    const native = require('../binding.js')
    return typeof native.serverMain === 'function' ? native.serverMain : null
  } catch {
    return null
  }
}

function fromCargo() {
  const exe = process.platform === 'win32' ? 'leanrt-server.exe' : 'leanrt-server'
  for (const profile of ['release', 'debug']) {
    const bin = path.join(__dirname, '..', 'target', profile, exe)
    if (fs.existsSync(bin)) return bin
  }
  return null
}

const serverMain = fromAddon()
if (serverMain) {
  process.exitCode = serverMain(args)
} else {
  const bin = fromCargo()
  if (!bin) {
    console.error('leanrt-server: no native build found for this platform. Install leanrt with its optional platform package, or run `npm run build` in a checkout.')
    process.exit(1)
  }
  const child = spawn(bin, args, { stdio: 'inherit' })
  // Forward the shutdown signals so that the server drains and exits 0.
  for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => child.kill(sig))
  child.on('exit', (code, signal) => process.exit(code ?? (signal ? 1 : 0)))
}
