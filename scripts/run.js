'use strict'
// Runs a command with inherited stdio; resolves to its exit code. Shared by the
// set-up, build and test scripts so that each stays a short list of steps.
const { spawnSync } = require('node:child_process')

function run(cmd, args, opts = {}) {
  const shown = [cmd, ...args].join(' ')
  console.log(`\n> ${shown}`)
  const r = spawnSync(cmd, args, { stdio: 'inherit', shell: process.platform === 'win32', ...opts })
  if (r.error) {
    console.error(`${shown}: ${r.error.message}`)
    return 1
  }
  return r.status === null ? 1 : r.status
}

/** Runs the command and exits the process with its code if it failed. */
function must(cmd, args, opts) {
  const code = run(cmd, args, opts)
  if (code !== 0) process.exit(code)
}

module.exports = { run, must }
