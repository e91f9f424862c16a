'use strict'
// `npm run bench`: leanrt against leancloud-realtime 2.4.0 (with its ws 0.8, and with
// ws 8 injected), all against one local leanrt-server in one run, plus server
// measures from the Rust load generator. Contenders alternate within each repetition;
// every figure is the median of the repetitions.
//
//   node bench/run.js [--smoke] [--reps N] [--write] [--protocols]
//
// --smoke      tiny sizes and one repetition, debug binaries (run by `npm test`)
// --write      also rewrite bench/RESULTS.md (with --protocols: PROTOCOL-RESULTS.md)
// --protocols  only the server's cost per message with v3 protobuf clients against
//              v2 JSON clients (`npm run bench:protocols`)
const fs = require('node:fs')
const path = require('node:path')
const { CONTENDERS } = require('./contenders')
const { spawnRaised, resultOf, jsonOf, startServer: serverOn, cpuSeconds, storageWrites, medians, collect, fmt, machine } = require('./harness')

const argv = process.argv.slice(2)
const smoke = argv.includes('--smoke')
const write = argv.includes('--write')
const protocolsOnly = argv.includes('--protocols')
const repsAt = argv.indexOf('--reps')
const REPS = repsAt >= 0 ? Number(argv[repsAt + 1]) : smoke ? 1 : 3
const SIZE = smoke
  ? { inbound: 400, rtt: 50, outbound: 300, rss: 20, rssSlope: 100, live: 5, liveSeconds: 1, fanMembers: 10, fanCount: 100, fanRate: 100, ingestSenders: 5, ingestCount: 500, prefill: 2000, idle: 100, push: 2000, scanConvs: 500, scanRate: 20, scanSeconds: 1 }
  : { inbound: 200000, rtt: 5000, outbound: 20000, rss: 1000, rssSlope: 5000, live: 100, liveSeconds: 10, fanMembers: 100, fanCount: 20000, fanRate: 500, ingestSenders: 50, ingestCount: 100000, prefill: 1000000, idle: 10000, push: 200000, scanConvs: 100000, scanRate: 200, scanSeconds: 10 }
const root = path.join(__dirname, '..')
const profile = smoke ? 'debug' : 'release'
const bin = (name) => path.join(root, 'target', profile, name)
/** A leanrt-server with its data file in a new directory under `base`. */
function startServer(base) {
  // The limits that protect a production server would throttle the load itself: no
  // rate limit, an outbound queue that holds a whole burst for a slow receiver, and an
  // offline push that holds the whole inbound burst.
  const flags = ['--rate-limit', '0', '--outbound-queue', String(SIZE.inbound + 1024), '--offline-per-conversation', String(Math.max(SIZE.inbound, SIZE.push))]
  return serverOn({ bin: bin('leanrt-server'), flags, base })
}

function client(measure, contender, server, n, clientId = '') {
  const args = [path.join(__dirname, 'client.js'), measure, contender, server.router, String(n), clientId]
  if (measure.startsWith('rss')) args.unshift('--expose-gc')
  return spawnRaised(process.execPath, args, { env: { ...process.env, LIVE_SECONDS: String(SIZE.liveSeconds) } })
}

function loadgen(server, scenario, flags, dialect = 'v2') {
  const v3 = dialect === 'v3' ? ['--v3'] : []
  return spawnRaised(bin('leanrt-loadgen'), ['--url', server.ws, ...v3, scenario, ...flags])
}

/** The server's CPU µs per unit of `work` while `run` runs, and its report. */
async function serverCpu(server, units, run) {
  const before = cpuSeconds(server.pid)
  const report = await run()
  return { report, us: ((cpuSeconds(server.pid) - before) * 1e6) / units }
}

/** Fan-out and ingest with clients of one dialect, each on a server of its own (on
 * /dev/shm where there is one), with what the server spent per message. */
async function dialectMeasures(dialect) {
  const base = fs.existsSync('/dev/shm') ? '/dev/shm' : undefined
  const deliveries = SIZE.fanCount * SIZE.fanMembers
  const fan = await onFresh(base, (s) => serverCpu(s, deliveries, () =>
    jsonOf(loadgen(s, 'fanout', ['--members', SIZE.fanMembers, '--count', SIZE.fanCount], dialect), `loadgen fanout ${dialect}`)))
  const ingest = await onFresh(base, (s) => serverCpu(s, SIZE.ingestCount, () =>
    jsonOf(loadgen(s, 'ingest', ['--senders', SIZE.ingestSenders, '--count', SIZE.ingestCount], dialect), `loadgen ingest ${dialect}`)))
  return {
    [`Fan-out delivered/s (1 sender, ${SIZE.fanMembers} members)`]: fan.report.delivered_per_sec,
    'Fan-out: server CPU µs per delivery': fan.us,
    'Fan-out send→delivery p50 µs': fan.report.delivery_us.p50,
    [`Ingest acked/s (${SIZE.ingestSenders} senders)`]: ingest.report.acked_per_sec,
    'Ingest: server CPU µs per message': ingest.us,
    'Ingest send→ack p50 µs': ingest.report.ack_us.p50,
  }
}

/** The v3-against-v2 table. */
function protocolTable(measures) {
  const lines = ['| Protocol measure | v2 JSON clients | v3 protobuf clients | v3 ÷ v2 |', '|---|---|---|---|']
  for (const [measure, by] of Object.entries(measures)) {
    lines.push(`| ${measure} | ${fmt(by.v2)} | ${fmt(by.v3)} | ${(by.v3 / by.v2).toFixed(2)}× |`)
  }
  return lines.join('\n')
}

/** Both dialects, alternating first within each repetition. */
async function protocolSamples(samples, rep) {
  for (const dialect of rep % 2 ? ['v3', 'v2'] : ['v2', 'v3']) {
    console.error(`rep ${rep + 1}/${REPS}: server with ${dialect} clients`)
    collect(samples, dialect, await dialectMeasures(dialect))
  }
}

async function protocolsMain() {
  const started = Date.now()
  const samples = {}
  for (let rep = 0; rep < REPS; rep++) await protocolSamples(samples, rep)
  const text = protocolTable(medians(samples))
  const seconds = Math.round((Date.now() - started) / 1000)
  console.log(`\n${text}\n\n${machine()}; ${REPS} repetition(s), medians; ${seconds} s`)
  if (write) {
    fs.writeFileSync(path.join(__dirname, 'PROTOCOL-RESULTS.md'), `# v3 protobuf clients against v2 JSON clients

Command: \`npm run bench:protocols\` (\`node bench/run.js --protocols --write\` after a release build), ${REPS} repetitions, medians, dialects alternating.
Date: ${new Date().toISOString().slice(0, 10)}. Machine: ${machine()}. Run time: ${seconds} s.

${text}

The Rust load generator (\`bench/loadgen\`, \`--v3\`) speaks each dialect over real
sockets: fan-out is 1 sender, window 64, ${SIZE.fanMembers} members online acking every message
(v3 acks one message id each, as v2 does); ingest is ${SIZE.ingestSenders} senders alone in their
conversations, window 64. Each run has a leanrt-server of its own with its data file on
\`/dev/shm\`. Server CPU is utime + stime of \`/proc/PID/stat\` over the run, divided by
the deliveries (fan-out) or messages (ingest): that is the comparison that counts. The
rates and latencies with v3 clients are bounded by the load generator itself, which
shares the machine and decodes every v3 frame through the schema-driven codec and
JSON, several times the CPU of its v2 client.
`)
  }
}

/** The four client measures for one contender; each in a fresh process. */
async function clientMeasures(contender, server) {
  // The burst is committed while its receiver is offline, then pushed to it at login
  // straight from the store: the server's durable ingest (the same for every
  // contender) is then not what limits the receiver.
  const to = `recv-${contender}-${Date.now()}`
  await jsonOf(loadgen(server, 'burst', ['--to', to, '--count', SIZE.inbound]), 'loadgen burst')
  const inbound = await resultOf(client('inbound', contender, server, SIZE.inbound, to), `${contender} inbound`)
  const rtt = await resultOf(client('rtt', contender, server, SIZE.rtt), `${contender} rtt`)
  const outbound = await resultOf(client('outbound', contender, server, SIZE.outbound), `${contender} outbound`)
  const rss = await resultOf(client('rss', contender, server, SIZE.rss), `${contender} rss`)
  const slope = await resultOf(client('rss-slope', contender, server, SIZE.rssSlope), `${contender} rss-slope`)
  const live = await resultOf(client('live', contender, server, SIZE.live), `${contender} live`)
  return {
    'Inbound messages/s': inbound.msgs_per_sec,
    'CPU µs per inbound message': inbound.cpu_us_per_msg,
    'RSS KB per idle client': rss.bytes_per_client / 1024,
    [`RSS KB per further idle client (${SIZE.rssSlope / 5}→${SIZE.rssSlope})`]: slope.bytes_per_client / 1024,
    [`CPU µs per live inbound message (${SIZE.live} clients × 10/s)`]: live.cpu_us_per_msg,
    'Send→ack p50 µs': rtt.p50_us,
    'Send→ack p99 µs': rtt.p99_us,
    'Outbound acks/s (1000 in flight)': outbound.acks_per_sec,
    'CPU µs per outbound message': outbound.cpu_us_per_msg,
  }
}

/** The memory floor of an SDK on `ws`: bare `ws` 8 sockets, one session open each. */
async function plainWsFloor(server) {
  const floor = await resultOf(client('rss-slope', 'ws8', server, SIZE.rssSlope), 'plain ws 8 rss-slope')
  return { [PLAIN_WS]: floor.bytes_per_client / 1024 }
}

/** Runs `body` against a server of its own, stopped afterwards. */
async function onFresh(base, body) {
  const fresh = await startServer(base)
  try {
    return await body(fresh)
  } finally {
    fresh.stop()
  }
}

/** Fan-out at full speed and paced, and ingest: on the disk or on /dev/shm. */
async function deliveryMeasures(server, where) {
  const fan = await jsonOf(loadgen(server, 'fanout', ['--members', SIZE.fanMembers, '--count', SIZE.fanCount]), 'loadgen fanout')
  const paced = await jsonOf(loadgen(server, 'fanout', ['--members', SIZE.fanMembers, '--count', SIZE.fanRate * 10, '--rate', SIZE.fanRate]), 'loadgen paced fanout')
  const ingest = await jsonOf(loadgen(server, 'ingest', ['--senders', SIZE.ingestSenders, '--count', SIZE.ingestCount]), 'loadgen ingest')
  const rate = SIZE.fanRate * SIZE.fanMembers
  return {
    [`Fan-out delivered/s (1 sender, ${SIZE.fanMembers} members), ${where}`]: fan.delivered_per_sec,
    [`Fan-out send→ack p99 µs, ${where}`]: fan.ack_us.p99,
    [`Fan-out send→delivery p50 µs, ${where}`]: fan.delivery_us.p50,
    [`Fan-out send→delivery p99 µs, ${where}`]: fan.delivery_us.p99,
    [`Fan-out at ${rate.toLocaleString('en-US')} deliveries/s: send→delivery p50 µs, ${where}`]: paced.delivery_us.p50,
    [`Fan-out at ${rate.toLocaleString('en-US')} deliveries/s: send→delivery p99 µs, ${where}`]: paced.delivery_us.p99,
    [`Durable ingest acked/s (${SIZE.ingestSenders} senders), ${where}`]: ingest.acked_per_sec,
    [`Durable ingest send→ack p99 µs, ${where}`]: ingest.ack_us.p99,
  }
}

async function serverMeasures(server) {
  const disk = await deliveryMeasures(server, 'disk')
  const shm = fs.existsSync('/dev/shm') ? await onFresh('/dev/shm', (s) => deliveryMeasures(s, '/dev/shm')) : {}
  // Durable ingest on a data file that already holds many messages, and what it
  // writes to storage per message (WAL and checkpoints).
  const big = await onFresh(undefined, async (s) => {
    await jsonOf(loadgen(s, 'ingest', ['--senders', SIZE.ingestSenders, '--count', SIZE.prefill]), 'loadgen prefill')
    const before = storageWrites(s.pid)
    const ingest = await jsonOf(loadgen(s, 'ingest', ['--senders', SIZE.ingestSenders, '--count', SIZE.ingestCount]), 'loadgen ingest')
    return { ingest, bytes: (storageWrites(s.pid) - before) / SIZE.ingestCount }
  })
  // Each on a server of its own: memory the other measures freed would be reused and
  // hide what connections and pushes cost.
  const idle = await onFresh(undefined, (s) => jsonOf(loadgen(s, 'idle', ['--conns', SIZE.idle, '--server-pid', s.pid]), 'loadgen idle'))
  const push = await onFresh(undefined, (s) => jsonOf(loadgen(s, 'push', ['--count', SIZE.push, '--server-pid', s.pid]), 'loadgen push'))
  const scan = await onFresh(undefined, (s) => jsonOf(loadgen(s, 'scan', ['--conversations', SIZE.scanConvs, '--rate', SIZE.scanRate, '--seconds', SIZE.scanSeconds]), 'loadgen scan'))
  return {
    ...disk,
    ...shm,
    [`Durable ingest acked/s, data file holding ${SIZE.prefill.toLocaleString('en-US')} messages`]: big.ingest.acked_per_sec,
    'Storage bytes written per ingested message': big.bytes,
    [`Server RSS KB per idle connection (${SIZE.idle})`]: idle.bytes_per_conn / 1024,
    [`Server RSS growth MB, login push of ${SIZE.push.toLocaleString('en-US')} messages`]: push.growth_bytes / 2 ** 20,
    [`Send→ack p99 µs alone (${SIZE.scanConvs.toLocaleString('en-US')} conversations)`]: scan.ack_us_alone.p99,
    [`Send→ack p99 µs beside scanning queries offered at ${SIZE.scanRate}/s`]: scan.ack_us_beside.p99,
    'Send→ack p99 ratio, beside scans ÷ alone': scan.ack_p99_ratio,
    'Scanning queries answered/s': scan.queries_per_sec,
  }
}

function table(client, server) {
  const lines = [
    '| Measure | leanrt | 2.4.0 (ws 0.8) | 2.4.0 + ws 8 | leanrt ÷ 2.4.0 | leanrt ÷ 2.4.0+ws8 |',
    '|---|---|---|---|---|---|',
  ]
  for (const [measure, by] of Object.entries(client)) {
    const [a, b, c] = CONTENDERS.map((who) => by[who])
    lines.push(`| ${measure} | ${fmt(a)} | ${fmt(b)} | ${fmt(c)} | ${(a / b).toFixed(2)}× | ${(a / c).toFixed(2)}× |`)
  }
  lines.push('', '| Server measure | leanrt-server |', '|---|---|')
  for (const [measure, by] of Object.entries(server)) lines.push(`| ${measure} | ${fmt(by.server ?? by.ws8)} |`)
  return lines.join('\n')
}

/** The value of the first measure whose name starts with `prefix`, for `who`. */
/** The server-table row with the floor an SDK on `ws` cannot go below. */
const PLAIN_WS = 'Plain ws 8 without an SDK (one session open each): RSS KB per further idle client'

function pick(measures, prefix, who) {
  const name = Object.keys(measures).find((m) => m.startsWith(prefix))
  return name === undefined ? NaN : measures[name][who]
}

/** Issue 5's targets, each with what was measured and whether it is met. */
function targets(client, server) {
  const ratio = (prefix, other) => pick(client, prefix, 'leanrt') / pick(client, prefix, other)
  const x = (v) => `${v.toFixed(2)}×`
  const rows = [
    ['Inbound messages/s ≥3× 2.4.0, ≥2× 2.4.0+ws8', () => {
      const [a, b] = [ratio('Inbound messages/s', 'orig'), ratio('Inbound messages/s', 'orig-ws8')]
      return [`${x(a)}, ${x(b)}`, a >= 3 && b >= 2]
    }],
    ['CPU per inbound message ≤0.4× 2.4.0', () => {
      const a = ratio('CPU µs per inbound', 'orig')
      return [x(a), a <= 0.4]
    }],
    ['RSS per client ≤0.5× 2.4.0 and ≤16 KB', () => {
      const [a, kb] = [ratio('RSS KB per idle client', 'orig'), pick(client, 'RSS KB per idle client', 'leanrt')]
      return [`${x(a)}, ${kb.toFixed(1)} KB`, a <= 0.5 && kb <= 16]
    }],
    ['Send→ack p50 ≤1.2× 2.4.0', () => {
      const a = ratio('Send→ack p50', 'orig')
      return [x(a), a <= 1.2]
    }],
    ['Send→ack p99 ≤1.0× 2.4.0', () => {
      const a = ratio('Send→ack p99', 'orig')
      return [x(a), a <= 1.0]
    }],
    ['Outbound acks/s ≥3× 2.4.0', () => {
      const a = ratio('Outbound acks/s', 'orig')
      return [x(a), a >= 3]
    }],
    ['Issue 14: RSS per further idle client ≤8 KB and below plain ws 8', () => {
      const [kb, floor] = [pick(client, 'RSS KB per further idle client', 'leanrt'), pick(server, PLAIN_WS, 'ws8')]
      return [`${kb.toFixed(1)} KB (plain ws 8: ${floor.toFixed(1)} KB)`, kb <= 8 && kb < floor]
    }],
    ['Issue 14: CPU per live inbound message ≤0.5× 2.4.0', () => {
      const a = ratio('CPU µs per live inbound', 'orig')
      return [x(a), a <= 0.5]
    }],
    ['Issue 14: send→ack p50 ≤1.0× 2.4.0 and ≤1.2× 2.4.0+ws8', () => {
      const [a, b] = [ratio('Send→ack p50', 'orig'), ratio('Send→ack p50', 'orig-ws8')]
      return [`${x(a)}, ${x(b)}`, a <= 1.0 && b <= 1.2]
    }],
    ['Issue 14: inbound messages/s ≥5× 2.4.0 (acks after dispatch)', () => {
      const a = ratio('Inbound messages/s', 'orig')
      return [x(a), a >= 5]
    }],
    ['Server fan-out ≥250k delivered/s (issue 10)', () => {
      const v = pick(server, 'Fan-out delivered/s', 'server')
      return [fmt(v), v >= 250000]
    }],
    ['Send→delivery p99 at that rate ≤50 ms (disk)', () => {
      const v = pick(server, 'Fan-out send→delivery p99 µs, disk', 'server')
      return [`${fmt(v / 1000)} ms`, v <= 50000]
    }],
    ['Send→delivery p99 at 50k deliveries/s ≤10 ms (disk)', () => {
      const p99 = pick(server, `Fan-out at ${(SIZE.fanRate * SIZE.fanMembers).toLocaleString('en-US')} deliveries/s: send→delivery p99 µs, disk`, 'server')
      return [`${fmt(p99 / 1000)} ms`, p99 <= 10000]
    }],
    ['Durable ingest ≥60k msgs/s on a file of ≥1M messages', () => {
      const v = pick(server, 'Durable ingest acked/s, data file', 'server')
      return [fmt(v), v >= 60000]
    }],
    ['Server memory ≤6 KB per idle connection', () => {
      const v = pick(server, 'Server RSS KB per idle connection', 'server')
      return [`${v.toFixed(2)} KB`, v <= 6]
    }],
    ['Server RSS growth ≤64 MB during a 200k-message login push', () => {
      const v = pick(server, 'Server RSS growth MB', 'server')
      return [`${v.toFixed(1)} MB`, v <= 64]
    }],
    ['Send→ack p99 beside 200 scanning queries/s ≤2× alone', () => {
      const v = pick(server, 'Send→ack p99 ratio', 'server')
      return [x(v), v <= 2]
    }],
  ]
  const lines = ['| Target | Measured | Met |', '|---|---|---|']
  for (const [target, measure] of rows) {
    const [value, met] = measure()
    lines.push(`| ${target} | ${value} | ${met ? 'yes' : '**no**'} |`)
  }
  return lines.join('\n')
}

async function main() {
  for (const name of ['leanrt-server', 'leanrt-loadgen']) {
    if (!fs.existsSync(bin(name))) throw new Error(`${bin(name)} is missing: run \`node scripts/build.js${smoke ? '' : ' --release'}\``)
  }
  const started = Date.now()
  const server = await startServer()
  const clientSamples = {}
  const serverSamples = {}
  const protocolSamplesByMeasure = {}
  const floorSamples = {}
  try {
    for (let rep = 0; rep < REPS; rep++) {
      // Rotate the order so that no contender always runs first.
      const order = CONTENDERS.map((_, k) => CONTENDERS[(k + rep) % CONTENDERS.length])
      for (const who of order) {
        console.error(`rep ${rep + 1}/${REPS}: ${who}`)
        collect(clientSamples, who, await clientMeasures(who, server))
      }
      collect(floorSamples, 'ws8', await plainWsFloor(server))
      console.error(`rep ${rep + 1}/${REPS}: server`)
      collect(serverSamples, 'server', await serverMeasures(server))
      await protocolSamples(protocolSamplesByMeasure, rep)
    }
  } finally {
    server.stop()
  }
  const client = medians(clientSamples)
  const srv = Object.assign(medians(serverSamples), medians(floorSamples))
  const protocols = medians(protocolSamplesByMeasure)
  const text = `${table(client, srv)}\n\n${protocolTable(protocols)}`
  const seconds = Math.round((Date.now() - started) / 1000)
  console.log(`\n${text}\n\n${machine()}; ${REPS} repetition(s), medians; ${seconds} s`)
  fs.writeFileSync(path.join(__dirname, smoke ? 'results-smoke.json' : 'results.json'), JSON.stringify({ date: new Date().toISOString(), machine: machine(), reps: REPS, size: SIZE, client, server: srv, protocols }, null, 2))
  if (write) writeResults(text, targets(client, srv), seconds)
}

/** The server table of the RESULTS.md being replaced, above the runs it kept. */
function earlierRuns() {
  const file = path.join(__dirname, 'RESULTS.md')
  if (!fs.existsSync(file)) return ''
  const old = fs.readFileSync(file, 'utf8')
  const date = /^Date: ([^.]*)\./m.exec(old)?.[1] ?? 'an unknown date'
  const server = /\| Server measure \|[^\n]*\n\|---\|---\|\n(?:\|[^\n]*\n)+/.exec(old)?.[0] ?? ''
  const marker = '## Earlier runs'
  const kept = old.includes(marker) ? old.slice(old.indexOf(marker) + marker.length).trim() : ''
  return `${marker}\n\nServer measures of the run of ${date}:\n\n${server}\n${kept}\n`
}

function writeResults(text, verdicts, seconds) {
  const earlier = earlierRuns()
  const doc = `# Benchmark results

Command: \`npm run bench\` (\`node bench/run.js --write\` after a release build), ${REPS} repetitions, medians, contenders alternating.
Date: ${new Date().toISOString().slice(0, 10)}. Machine: ${machine()}. Run time: ${seconds} s.

Ratios are leanrt divided by the other: above 1 is better for rates (messages/s, acks/s),
below 1 is better for CPU, memory and latency.

${text}

## Targets (issues 5, 10 and 14)

${verdicts}

## How each figure is taken

- **Client measures**: one Node process per contender and measure, all against one
  leanrt-server (release build, no rate limit); contenders alternate within each
  repetition. \`2.4.0\` is \`leancloud-realtime@2.4.0\` with its bundled \`ws\` 0.8;
  \`2.4.0 + ws 8\` injects \`ws\` 8 through \`realtime.config({WebSocket})\`.
- **Inbound**: ${SIZE.inbound} small text messages are committed (by the Rust load generator,
  4 senders) while the receiver is offline, then pushed to it at login straight from the
  store; timed from the first \`message\` event to the last. A live burst would measure
  the server's durable ingest, the same for every contender. CPU is
  \`process.cpuUsage()\` (all threads) over the same span.
- **RSS per idle client**: ${SIZE.rss} clients connected in one process, RSS delta after
  \`gc()\`, divided by ${SIZE.rss}. Before the baseline, V8's young generation is grown
  (it grows once, to 16–32 MB, when many objects survive scavenges, whatever the SDK);
  without that step every contender's figure includes about 14 KB per client of that
  one-off growth.
- **RSS per further idle client**: the slope between ${SIZE.rssSlope / 5} and ${SIZE.rssSlope} clients in one
  process (after the same warm-up, RSS after \`gc()\` at each end); the plain \`ws\` 8 row
  is the same with bare sockets that each sent one \`session open\`.
- **Live inbound**: ${SIZE.live} clients in one process, each in a conversation of its own, each
  sent 10 messages a second by a sender in another process, evenly spaced, so that
  nearly every message arrives alone; \`process.cpuUsage()\` of the receiving process over
  ${SIZE.liveSeconds} s, divided by the messages received meanwhile.
- **Send→ack**: ${SIZE.rtt} sequential sends; **outbound**: ${SIZE.outbound} sends, 1000 in flight.
- **Server measures**: the Rust load generator (\`bench/loadgen\`) over real sockets.
  Fan-out: 1 sender, window 64, ${SIZE.fanMembers} members online, each acking every message;
  paced, the same at ${SIZE.fanRate} messages/s. Ingest: ${SIZE.ingestSenders} senders alone in their
  conversations, window 64 each, every message committed before its ack. Each is run
  with the data file on the disk and on \`/dev/shm\` (this machine's disk stalls
  \`fdatasync\` for 100–800 ms at times; the tails on disk follow those stalls).
  Ingest on a large file: ${SIZE.prefill.toLocaleString('en-US')} messages first, then the measured run;
  storage bytes are \`write_bytes\` of \`/proc/PID/io\` over that run, divided by its
  messages. Idle memory: ${SIZE.idle} logged-in connections; login push: the server's peak
  RSS (sampled every 10 ms) during the login of a receiver owed ${SIZE.push.toLocaleString('en-US')}
  messages, against before; scans: ${SIZE.scanConvs.toLocaleString('en-US')} conversations, a sender's sequential
  send→ack for ${SIZE.scanSeconds} s alone, then beside queries (that match nothing and no index
  narrows) offered at ${SIZE.scanRate}/s, at most 16 unanswered. Each on a server of its own.

The soak figures (\`npm run soak -- --minutes 10\`) are kept in [SOAK-RESULTS.md](SOAK-RESULTS.md).

${earlier}`
  fs.writeFileSync(path.join(__dirname, 'RESULTS.md'), doc)
}

;(protocolsOnly ? protocolsMain() : main()).catch((err) => {
  console.error(err.stack || err)
  process.exit(1)
})
