'use strict'
// Makes a fresh clone ready: installs the npm dev dependencies if they are missing,
// then builds the addon and the server (cargo only rebuilds what changed).
const fs = require('node:fs')
const path = require('node:path')
const { must } = require('./run')

const root = path.join(__dirname, '..')
const installed = path.join(root, 'node_modules', '.package-lock.json')
if (!fs.existsSync(installed)) {
  must('npm', ['ci'], { cwd: root })
}
must(process.execPath, [path.join(__dirname, 'build.js'), ...process.argv.slice(2)], { cwd: root })
