'use strict'
// `npm run bench:stores`: the embedded SQLite store against PostgreSQL, side by side
// in one run, each with its data on the disk and on /dev/shm; then fan-out on one node
// against two nodes (PostgreSQL and Redis, members split over both). Every measure is
// taken on servers of its own (a new data file, or a new database on one of this
// run's two PostgreSQL servers, started with scripts/postgres.sh); stores alternate
// within each repetition; figures are medians.
//
//   node bench/stores.js [--smoke] [--reps N] [--write]
//
// --smoke  tiny sizes, one repetition, debug binaries (run by `npm test`)
// --write  also rewrite bench/STORE-RESULTS.md
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const { execFileSync, spawn } = require('node:child_process')
const { spawnRaised, jsonOf, startServer, cpuSeconds, storageWrites, medians, collect, fmt, machine } = require('./harness')

const argv = process.argv.slice(2)
const smoke = argv.includes('--smoke')
const write = argv.includes('--write')
const repsAt = argv.indexOf('--reps')
const REPS = repsAt >= 0 ? Number(argv[repsAt + 1]) : smoke ? 1 : 3
const SIZE = smoke
  ? { senders: 5, count: 500, members: 10, fanCount: 100 }
  : { senders: 50, count: 50000, members: 100, fanCount: 5000 }
const root = path.join(__dirname, '..')
const bin = (name) => path.join(root, 'target', smoke ? 'debug' : 'release', name)
const postgresScript = path.join(root, 'scripts', 'postgres.sh')
const STORES = ['sqlite', 'postgres']

/** A PostgreSQL server with its data under `base`, from scripts/postgres.sh. */
function startPostgres(base) {
  const dir = fs.mkdtempSync(path.join(base, 'leanrt-pg-bench-'))
  const url = execFileSync(postgresScript, ['start', dir], { encoding: 'utf8' }).trim()
  const postmaster = Number(fs.readFileSync(path.join(dir, 'data', 'postmaster.pid'), 'utf8').split('\n')[0])
  let databases = 0
  return {
    url,
    database: () => `${url}/bench_${++databases}`,
    /** The postmaster and its children (backends, WAL writer, checkpointer…). */
    pids() {
      const pids = [postmaster]
      for (const entry of fs.readdirSync('/proc')) {
        if (!/^\d+$/.test(entry)) continue
        try {
          const stat = fs.readFileSync(`/proc/${entry}/stat`, 'utf8')
          if (Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]) === postmaster) pids.push(Number(entry))
        } catch (_) {}
      }
      return pids
    },
    /** The WAL position, in bytes from the start. */
    wal() {
      const sql = "SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), '0/0')::bigint"
      return Number(execFileSync('psql', [`${url}/postgres`, '-Atc', sql], { encoding: 'utf8' }).trim())
    },
    stop() {
      try { execFileSync(postgresScript, ['stop', dir]) } catch (_) {}
      fs.rmSync(dir, { recursive: true, force: true })
    },
  }
}

const sum = (pids, f) => pids.reduce((total, pid) => {
  try { return total + f(pid) } catch (_) { return total }
}, 0)

/** CPU seconds and bytes written so far by the server and, for PostgreSQL, its server
 * processes, and PostgreSQL's WAL position in bytes. */
function usage(server, pg) {
  const pids = [server.pid, ...(pg ? pg.pids() : [])]
  return { cpu: cpuSeconds(server.pid), bytes: sum(pids, storageWrites), db: pg ? sum(pg.pids(), cpuSeconds) : 0, wal: pg ? pg.wal() : 0 }
}

function loadgen(server, scenario, flags) {
  return spawnRaised(bin('leanrt-loadgen'), ['--url', server.ws, scenario, ...flags])
}

/** Ingest and fan-out on a new server over `store` (`pg` for PostgreSQL), data under `base`. */
async function measures(store, pg, where) {
  const run = async (scenario, flags, units) => {
    const server = await startServer({ bin: bin('leanrt-server'), flags: ['--rate-limit', '0'], base: where.base, db: pg ? pg.database() : undefined })
    try {
      const before = usage(server, pg)
      const report = await jsonOf(loadgen(server, scenario, flags), `loadgen ${scenario} on ${store}`)
      const after = usage(server, pg)
      return {
        report,
        serverUs: ((after.cpu - before.cpu) * 1e6) / units,
        dbUs: (Math.max(0, after.db - before.db) * 1e6) / units,
        bytes: (after.bytes - before.bytes) / units,
        wal: (after.wal - before.wal) / units,
      }
    } finally {
      server.stop()
    }
  }
  const ingest = await run('ingest', ['--senders', SIZE.senders, '--count', SIZE.count], SIZE.count)
  const deliveries = SIZE.fanCount * SIZE.members
  const fan = await run('fanout', ['--members', SIZE.members, '--count', SIZE.fanCount], deliveries)
  const on = where.name
  return {
    [`Durable ingest acked/s (${SIZE.senders} senders), ${on}`]: ingest.report.acked_per_sec,
    [`Ingest send→ack p50 µs, ${on}`]: ingest.report.ack_us.p50,
    [`Ingest send→ack p99 µs, ${on}`]: ingest.report.ack_us.p99,
    [`Ingest: leanrt-server CPU µs per message, ${on}`]: ingest.serverUs,
    [`Ingest: database server CPU µs per message, ${on}`]: ingest.dbUs,
    [`Ingest: bytes written per message, ${on}`]: ingest.bytes,
    [`Ingest: PostgreSQL WAL bytes per message, ${on}`]: ingest.wal,
    [`Fan-out delivered/s (1 sender, ${SIZE.members} members), ${on}`]: fan.report.delivered_per_sec,
    [`Fan-out send→delivery p99 µs, ${on}`]: fan.report.delivery_us.p99,
    [`Fan-out: leanrt-server CPU µs per delivery, ${on}`]: fan.serverUs,
    [`Fan-out: database server CPU µs per delivery, ${on}`]: fan.dbUs,
  }
}

/** A Redis server on a free port, for the cluster measures. */
async function startRedis() {
  const port = await new Promise((resolve) => {
    const probe = require('node:net').createServer()
    probe.listen(0, '127.0.0.1', () => {
      const { port } = probe.address()
      probe.close(() => resolve(port))
    })
  })
  const child = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--loglevel', 'warning'], { stdio: 'ignore' })
  const url = `redis://127.0.0.1:${port}`
  for (let n = 0; n < 100; n++) {
    try {
      if (execFileSync('redis-cli', ['-u', url, 'PING'], { encoding: 'utf8' }).includes('PONG')) break
    } catch (_) {}
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
  return { url, pid: child.pid, stop: () => child.kill('SIGKILL') }
}

/** Fan-out with every member on the sender's node, and with half of them on a second
 * node of a cluster (PostgreSQL on the disk, Redis). */
async function clusterMeasures(pg, redis) {
  const deliveries = SIZE.fanCount * SIZE.members
  const flags = ['--rate-limit', '0']
  const fan = (extra) => ['--members', SIZE.members, '--count', SIZE.fanCount, ...extra]
  const one = await startServer({ bin: bin('leanrt-server'), flags, db: pg.database() })
  let single
  try {
    const before = cpuSeconds(one.pid)
    single = { report: await jsonOf(loadgen(one, 'fanout', fan([])), 'loadgen fanout, one node') }
    single.serverUs = ((cpuSeconds(one.pid) - before) * 1e6) / deliveries
  } finally {
    one.stop()
  }
  const db = pg.database()
  const nodes = []
  let two
  try {
    for (let n = 0; n < 2; n++) nodes.push(await startServer({ bin: bin('leanrt-server'), flags: [...flags, '--redis', redis.url], db }))
    const cpu = () => nodes.reduce((t, node) => t + cpuSeconds(node.pid), 0)
    const [before, redisBefore] = [cpu(), cpuSeconds(redis.pid)]
    two = { report: await jsonOf(loadgen(nodes[0], 'fanout', fan(['--split-url', nodes[1].ws])), 'loadgen fanout, two nodes') }
    two.serverUs = ((cpu() - before) * 1e6) / deliveries
    two.redisUs = ((cpuSeconds(redis.pid) - redisBefore) * 1e6) / deliveries
  } finally {
    for (const node of nodes) node.stop()
  }
  const label = `(1 sender, ${SIZE.members} members)`
  return {
    one: {
      [`Fan-out delivered/s ${label}`]: single.report.delivered_per_sec,
      'Fan-out send→delivery p50 µs': single.report.delivery_us.p50,
      'Fan-out send→delivery p99 µs': single.report.delivery_us.p99,
      'leanrt-server CPU µs per delivery (every node)': single.serverUs,
      'Redis CPU µs per delivery': 0,
    },
    two: {
      [`Fan-out delivered/s ${label}`]: two.report.delivered_per_sec,
      'Fan-out send→delivery p50 µs': two.report.delivery_us.p50,
      'Fan-out send→delivery p99 µs': two.report.delivery_us.p99,
      'leanrt-server CPU µs per delivery (every node)': two.serverUs,
      'Redis CPU µs per delivery': two.redisUs,
    },
  }
}

function clusterTable(m) {
  const lines = ['| Cluster measure (PostgreSQL on the disk) | one node | two nodes, members split | two ÷ one |', '|---|---|---|---|']
  for (const [measure, by] of Object.entries(m)) {
    const ratio = by.one ? `${(by.two / by.one).toFixed(2)}×` : '—'
    lines.push(`| ${measure} | ${fmt(by.one)} | ${fmt(by.two)} | ${ratio} |`)
  }
  return lines.join('\n')
}

function table(m) {
  const lines = ['| Measure | SQLite | PostgreSQL | PostgreSQL ÷ SQLite |', '|---|---|---|---|']
  for (const [measure, by] of Object.entries(m)) {
    const ratio = by.sqlite ? `${(by.postgres / by.sqlite).toFixed(2)}×` : '—'
    lines.push(`| ${measure} | ${fmt(by.sqlite)} | ${fmt(by.postgres)} | ${ratio} |`)
  }
  return lines.join('\n')
}

async function main() {
  for (const name of ['leanrt-server', 'leanrt-loadgen']) {
    if (!fs.existsSync(bin(name))) throw new Error(`${bin(name)} is missing: run \`node scripts/build.js${smoke ? '' : ' --release'}\``)
  }
  const places = [{ name: 'disk', base: os.tmpdir() }]
  if (fs.existsSync('/dev/shm')) places.push({ name: '/dev/shm', base: '/dev/shm' })
  const started = Date.now()
  const servers = places.map((p) => startPostgres(p.base))
  const redis = await startRedis()
  const samples = {}
  const clusterSamples = {}
  try {
    for (let rep = 0; rep < REPS; rep++) {
      for (const [k, where] of places.entries()) {
        for (const store of rep % 2 ? STORES.slice().reverse() : STORES) {
          console.error(`rep ${rep + 1}/${REPS}: ${store} on ${where.name}`)
          collect(samples, store, await measures(store, store === 'postgres' ? servers[k] : null, where))
        }
      }
      console.error(`rep ${rep + 1}/${REPS}: one node and two nodes`)
      const cluster = await clusterMeasures(servers[0], redis)
      collect(clusterSamples, 'one', cluster.one)
      collect(clusterSamples, 'two', cluster.two)
    }
  } finally {
    for (const pg of servers) pg.stop()
    redis.stop()
  }
  const text = `${table(medians(samples))}\n\n${clusterTable(medians(clusterSamples))}`
  const seconds = Math.round((Date.now() - started) / 1000)
  console.log(`\n${text}\n\n${machine()}; ${REPS} repetition(s), medians; ${seconds} s`)
  fs.writeFileSync(path.join(__dirname, smoke ? 'stores-smoke.json' : 'stores.json'), JSON.stringify({ date: new Date().toISOString(), machine: machine(), reps: REPS, size: SIZE, measures: medians(samples), cluster: medians(clusterSamples) }, null, 2))
  if (write) writeResults(text, seconds)
}

function writeResults(text, seconds) {
  const version = execFileSync(postgresScript, ['version'], { encoding: 'utf8' }).trim()
  fs.writeFileSync(path.join(__dirname, 'STORE-RESULTS.md'), `# The SQLite store against PostgreSQL

Command: \`npm run bench:stores\` (\`node bench/stores.js --write\` after a release build), ${REPS} repetitions, medians, stores alternating.
Date: ${new Date().toISOString().slice(0, 10)}. Machine: ${machine()}; ${version}. Run time: ${seconds} s.

${text}

Each row is measured on a leanrt-server of its own (release build, no rate limit): a new
SQLite file, or a new database on one of two PostgreSQL servers this run starts with
\`scripts/postgres.sh\` (defaults, \`fsync\` and \`synchronous_commit\` on), one with its data
on the disk, one on \`/dev/shm\`. The Rust load generator drives it over real sockets:
ingest is ${SIZE.senders} senders alone in their conversations, window 64 each, every message
committed before its ack; fan-out is 1 sender, window 64, ${SIZE.members} members online acking
every message. CPU is utime + stime from \`/proc/PID/stat\`; "database server" is the
PostgreSQL processes (the postmaster and its children), which SQLite does not have (its
work is in leanrt-server's figure). Bytes written are \`write_bytes\` of \`/proc/PID/io\`
of the same processes over the run, divided by the messages or deliveries (nothing
counts on \`/dev/shm\`, which is memory); PostgreSQL's WAL bytes are the move of
\`pg_current_wal_lsn()\` over the run, whatever the medium. This
machine's disk stalls \`fdatasync\` for 100–800 ms at times; the tails on disk follow
those stalls.

The cluster table: fan-out on one node on PostgreSQL (the disk), against two nodes on
that PostgreSQL and one Redis (no persistence), the sender and half of the
${SIZE.members} members on the first node, the other half on the second. CPU is the sum
over both nodes, and Redis's own, per delivery. Everything shares the same 2 cores.
`)
}

main().catch((err) => {
  console.error(err.stack || err)
  process.exit(1)
})
