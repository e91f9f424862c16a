'use strict'
// Builds the native addon (leanrt.<platform>.node plus its loader binding.js) and the
// leanrt-server binary. Debug by default, which is what the tests use;
// `--release` for benchmarks and packaging.
const path = require('node:path')
const { must } = require('./run')

const root = path.join(__dirname, '..')
const release = process.argv.includes('--release')
const napi = path.join(root, 'node_modules', '@napi-rs', 'cli', 'dist', 'cli.js')

must(process.execPath, [napi, 'build', '--platform', '--js', 'binding.js', '--dts', 'binding.d.ts', ...(release ? ['--release'] : [])], { cwd: root })
must('cargo', ['build', '-p', 'leanrt-server', '-p', 'leanrt-loadgen', ...(release ? ['--release'] : [])], { cwd: root })
