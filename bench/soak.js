'use strict'
// `npm run soak -- --minutes N`: holds up to 10k connections on one leanrt-server with
// churn (sessions closing and opening again) and steady messaging, and prints per
// interval (a minute by default): connections held, messages sent/acked/delivered,
// delivery p99 latency, server RSS and errors. The load comes from the Rust load
// generator (`leanrt-loadgen soak`, bench/loadgen/src/soak.rs); both processes run
// under a raised open-file limit.
//
//   node bench/soak.js [--minutes N] [--conns 10000] [--rate 500] [--churn 20]
//                      [--group 10] [--interval 60] [--release] [--write FILE]
//
// --rate     messages per second, all sessions together (each reaches group-1 members)
// --churn    sessions closed and reopened per second
// --release  use target/release binaries (default: target/debug, as npm test builds)
// --write    also write the figures as a Markdown table to FILE
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const { spawn } = require('node:child_process')
const readline = require('node:readline')

const argv = process.argv.slice(2)
function arg(name, dflt) {
  const at = argv.indexOf('--' + name)
  return at >= 0 && argv[at + 1] !== undefined ? argv[at + 1] : dflt
}
const MINUTES = Number(arg('minutes', 10))
const CONNS = Number(arg('conns', 10000))
const RATE = Number(arg('rate', 500))
const CHURN = Number(arg('churn', 20))
const GROUP = Number(arg('group', 10))
const INTERVAL = Number(arg('interval', 60))
const WRITE = arg('write', null)
const profile = argv.includes('--release') ? 'release' : 'debug'
const root = path.join(__dirname, '..')
const bin = (name) => path.join(root, 'target', profile, name)
const LIMIT_NOFILE = 65536

function spawnRaised(cmd, args, stdio) {
  const quoted = [cmd, ...args].map((a) => `'${String(a).replace(/'/g, "'\\''")}'`).join(' ')
  return spawn('bash', ['-c', `ulimit -n ${LIMIT_NOFILE} 2>/dev/null || ulimit -n $(ulimit -Hn); exec ${quoted}`], { stdio })
}

function startServer() {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'leanrt-soak-'))
  const child = spawnRaised(bin('leanrt-server'), ['--listen', '127.0.0.1:0', '--db', path.join(dir, 'soak.db'), '--log', 'warn'], ['ignore', 'pipe', 'pipe'])
  let stderr = ''
  child.stderr.on('data', (d) => {
    stderr += d
    if (stderr.length > 100000) stderr = stderr.slice(-50000)
  })
  return new Promise((resolve, reject) => {
    let out = ''
    const timer = setTimeout(() => reject(new Error('leanrt-server did not start within 30 s')), 30000)
    child.stdout.on('data', (d) => {
      out += d
      const m = /listening on http:\/\/(\S+)/.exec(out)
      if (m) {
        clearTimeout(timer)
        resolve({
          child,
          ws: `ws://${m[1]}/`,
          stderr: () => stderr,
          stop() {
            child.kill('SIGTERM')
            setTimeout(() => child.kill('SIGKILL'), 5000).unref()
            fs.rmSync(dir, { recursive: true, force: true })
          },
        })
      }
    })
    child.once('exit', (code) => reject(new Error(`leanrt-server exited (${code}): ${stderr.slice(-2000)}`)))
  })
}

const pad = (v, n) => String(v).padStart(n)

async function main() {
  for (const b of ['leanrt-server', 'leanrt-loadgen']) {
    if (!fs.existsSync(bin(b))) throw new Error(`${bin(b)} is missing: run \`npm run build\` (or cargo build -p ${b})`)
  }
  const server = await startServer()
  const seconds = Math.max(1, Math.round(MINUTES * 60))
  console.log(`soak: ${CONNS} connections, ${RATE} msg/s in groups of ${GROUP}, churn ${CHURN}/s, ${MINUTES} min, ${profile} binaries, server pid ${server.child.pid}`)
  const gen = spawnRaised(
    bin('leanrt-loadgen'),
    ['--url', server.ws, '--app', 'soak', '--timeout', String(seconds + 300), 'soak', '--conns', String(CONNS), '--rate', String(RATE), '--churn', String(CHURN),
      '--group', String(GROUP), '--seconds', String(seconds), '--interval', String(INTERVAL), '--server-pid', String(server.child.pid)],
    ['ignore', 'pipe', 'inherit'],
  )
  const rows = []
  let summary = null
  let ramp = null
  console.log(` ${pad('min', 5)} ${pad('conns', 7)} ${pad('connects', 8)} ${pad('sent', 8)} ${pad('acked', 8)} ${pad('delivered', 10)} ${pad('offline', 8)} ${pad('p50 ms', 8)} ${pad('p99 ms', 8)} ${pad('ack p99', 8)} ${pad('RSS MB', 8)} ${pad('errors', 7)}`)
  readline.createInterface({ input: gen.stdout }).on('line', (line) => {
    let j
    try {
      j = JSON.parse(line)
    } catch (_) {
      console.log(line)
      return
    }
    if (j.event === 'ramp') {
      ramp = j
      console.log(`ramp: ${j.connections}/${j.target} connections in ${j.seconds.toFixed(1)} s, ${j.conversations} conversations, ${j.errors} errors`)
    } else if (j.event === 'interval') {
      rows.push(j)
      const min = (j.t / 60).toFixed(1)
      console.log(` ${pad(min, 5)} ${pad(j.connections, 7)} ${pad(j.connects, 8)} ${pad(j.sent, 8)} ${pad(j.acked, 8)} ${pad(j.delivered, 10)} ${pad(j.delivered_offline, 8)} ${pad(j.delivery_ms.p50, 8)} ${pad(j.delivery_ms.p99, 8)} ${pad(j.ack_ms.p99, 8)} ${pad(j.server_rss_mb, 8)} ${pad(j.errors, 7)}` +
        (j.error_sample ? `  e.g. ${j.error_sample.slice(0, 160)}` : ''))
    } else if (j.event === 'summary') {
      summary = j
    }
  })
  const code = await new Promise((resolve) => gen.on('exit', (c) => resolve(c)))
  const serverAlive = server.child.exitCode === null && server.child.signalCode === null
  server.stop()
  if (summary) console.log('summary: ' + JSON.stringify(summary))
  if (!serverAlive) console.log('leanrt-server died during the soak: ' + server.stderr().slice(-2000))
  if (WRITE && summary) {
    const lines = [
      `Soak: ${CONNS} connections, ${RATE} msg/s in conversations of ${GROUP}, churn ${CHURN}/s, ${MINUTES} min, ${profile} binaries, ${os.cpus().length} cores (${os.cpus()[0].model}), ${new Date().toISOString()}.`,
      ramp ? `Ramp: ${ramp.connections} connections in ${ramp.seconds.toFixed(1)} s.` : '',
      '',
      '| minute | connections | connects | sent | acked | delivered live | delivered offline | delivery p50 ms | delivery p99 ms | ack p99 ms | server RSS MB | errors |',
      '|---|---|---|---|---|---|---|---|---|---|---|---|',
      ...rows.map((j) => `| ${(j.t / 60).toFixed(1)} | ${j.connections} | ${j.connects} | ${j.sent} | ${j.acked} | ${j.delivered} | ${j.delivered_offline} | ${j.delivery_ms.p50} | ${j.delivery_ms.p99} | ${j.ack_ms.p99} | ${j.server_rss_mb} | ${j.errors} |`),
      '',
      '```json',
      JSON.stringify(summary),
      '```',
      '',
    ]
    fs.writeFileSync(WRITE, lines.join('\n'))
    console.log(`wrote ${WRITE}`)
  }
  process.exit(code === 0 && serverAlive ? 0 : 1)
}

main().catch((e) => {
  console.error('soak: ' + e.message)
  process.exit(1)
})
