'use strict'
// What the benchmarks share: processes under a raised open-file limit, their output,
// their CPU and storage writes, leanrt-server instances and medians.
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const { spawn } = require('node:child_process')

const LIMIT_NOFILE = 65536

/** Spawns `cmd` under a raised open-file limit; returns the child. */
function spawnRaised(cmd, args, opts = {}) {
  const quoted = [cmd, ...args].map((a) => `'${String(a).replace(/'/g, "'\\''")}'`).join(' ')
  return spawn('bash', ['-c', `ulimit -n ${LIMIT_NOFILE} 2>/dev/null || ulimit -n $(ulimit -Hn); exec ${quoted}`], {
    stdio: ['ignore', 'pipe', 'inherit'],
    ...opts,
  })
}

/** Resolves with the first stdout match of `re`; rejects if the child exits first. */
function waitFor(child, re, what) {
  return new Promise((resolve, reject) => {
    let out = ''
    const onData = (chunk) => {
      out += chunk
      const m = re.exec(out)
      if (m) {
        child.stdout.off('data', onData)
        child.off('close', onExit)
        resolve(m)
      }
    }
    const onExit = (code) => reject(new Error(`${what} exited with code ${code}: ${out.slice(-500)}`))
    child.stdout.on('data', onData)
    child.once('close', onExit)
  })
}

const resultOf = (child, what) => waitFor(child, /RESULT (\{.*\})\n/, what).then((m) => JSON.parse(m[1]))
const jsonOf = (child, what) => waitFor(child, /^(\{.*\})\n/m, what).then((m) => JSON.parse(m[1]))

/** A leanrt-server (`bin`) with `flags`, on database `db`, or else on a data file in a
 * new directory under `base` (the disk by default; `/dev/shm` to take the disk's
 * fsync stalls out of the tails). */
async function startServer({ bin, flags = [], base = os.tmpdir(), db }) {
  const dir = db ? null : fs.mkdtempSync(path.join(base, 'leanrt-bench-'))
  const child = spawnRaised(bin, ['--listen', '127.0.0.1:0', '--db', db || path.join(dir, 'bench.db'), '--log', 'warn', ...flags])
  const m = await waitFor(child, /listening on http:\/\/(\S+)/, 'leanrt-server')
  child.stdout.resume()
  const hostPort = m[1]
  return {
    pid: child.pid,
    router: `http://${hostPort}`,
    ws: `ws://${hostPort}/`,
    stop() {
      child.kill('SIGTERM')
      if (dir) fs.rmSync(dir, { recursive: true, force: true })
    },
  }
}

/** CPU seconds a process has used so far (user and system, all threads). */
function cpuSeconds(pid) {
  const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8')
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
  // utime and stime, fields 14 and 15 of proc(5), in clock ticks of 1/100 s.
  return (Number(fields[11]) + Number(fields[12])) / 100
}

/** Bytes a process has had written to storage so far. */
function storageWrites(pid) {
  const io = fs.readFileSync(`/proc/${pid}/io`, 'utf8')
  return Number(/write_bytes: (\d+)/.exec(io)[1])
}

const median = (xs) => {
  const s = xs.slice().sort((a, b) => a - b)
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2
}

/** `{measure: {contender: [values…]}}` → `{measure: {contender: median}}`. */
function medians(samples) {
  const out = {}
  for (const [measure, by] of Object.entries(samples)) {
    out[measure] = {}
    for (const [who, xs] of Object.entries(by)) out[measure][who] = median(xs)
  }
  return out
}

function collect(samples, who, values) {
  for (const [measure, v] of Object.entries(values)) {
    samples[measure] ??= {}
    ;(samples[measure][who] ??= []).push(v)
  }
}

const fmt = (v) => (v >= 100 ? Math.round(v).toLocaleString('en-US') : v.toFixed(v >= 10 ? 1 : 2))

function machine() {
  const cpus = os.cpus()
  return `${cpus.length} cores, ${cpus[0]?.model ?? 'unknown CPU'}, ${Math.round(os.totalmem() / 2 ** 30)} GiB, Node ${process.version}, ${os.type()} ${os.release()}`
}

module.exports = { spawnRaised, waitFor, resultOf, jsonOf, startServer, cpuSeconds, storageWrites, medians, collect, fmt, machine }
