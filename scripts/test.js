'use strict'
// `npm test`: every Rust test, then every Node test. Both suites always run; the exit
// code is non-zero if either failed.
const fs = require('node:fs')
const path = require('node:path')
const { run } = require('./run')

const root = path.join(__dirname, '..')
const rust = run('cargo', ['test', '--workspace'], { cwd: root })

const dir = path.join(root, '__test__')
const files = fs.readdirSync(dir).filter((f) => f.endsWith('.test.js')).sort().map((f) => path.join('__test__', f))
const node = run(process.execPath, ['--test', '--test-concurrency=1', ...files], { cwd: root })

console.log(`\nrust tests: ${rust === 0 ? 'ok' : 'FAILED'}, node tests: ${node === 0 ? 'ok' : 'FAILED'}`)
process.exit(rust || node)
