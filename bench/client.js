'use strict'
// One client measure for one contender, in its own process:
//   node bench/client.js MEASURE CONTENDER ROUTER N [CLIENT_ID]
// It prints a final line `RESULT {json}`. `inbound` logs in as CLIENT_ID, for which
// N messages are waiting.
const { load } = require('./contenders')

const [measure, contender, router, nArg, receiver] = process.argv.slice(2)
const N = Number(nArg)
const APP = 'bench'
const connect = load(contender, router)
const tag = `${contender}-${process.pid}`

const cpuMicros = (u) => u.user + u.system
const elapsedMicros = (t0) => Number(process.hrtime.bigint() - t0) / 1000

function open(clientId) {
  return new Promise((resolve) => {
    const rt = connect({ appId: APP, clientId }, () => resolve(rt))
  })
}

function percentile(sorted, q) {
  return sorted.length ? sorted[Math.round((sorted.length - 1) * q)] : 0
}

function done(result) {
  console.log(`RESULT ${JSON.stringify(result)}`)
  process.exit(0)
}

/** Messages per second and CPU per message delivered to a `message` listener. */
async function inbound() {
  const rt = connect({ appId: APP, clientId: receiver })
  let got = 0
  let t0
  let cpu0
  rt.on('message', () => {
    if (got++ === 0) {
      t0 = process.hrtime.bigint()
      cpu0 = process.cpuUsage()
    }
    if (got === N) {
      const us = elapsedMicros(t0)
      const cpu = cpuMicros(process.cpuUsage(cpu0))
      done({ msgs: N, msgs_per_sec: ((N - 1) / us) * 1e6, cpu_us_per_msg: cpu / N })
    }
  })
}

function newRoom(rt) {
  return new Promise((resolve) => rt.room({ name: 'bench', members: [] }, resolve))
}

/** send→ack round trip over N sequential sends. */
async function rtt() {
  const rt = await open(`rtt-${tag}`)
  const room = await newRoom(rt)
  const samples = []
  for (let k = 0; k < N; k++) {
    const t0 = process.hrtime.bigint()
    await new Promise((resolve) => room.send(`rtt ${k}`, {}, resolve))
    samples.push(elapsedMicros(t0))
  }
  samples.sort((a, b) => a - b)
  done({ sends: N, p50_us: percentile(samples, 0.5), p99_us: percentile(samples, 0.99) })
}

/** Acked messages per second with up to 1000 sends in flight. */
async function outbound() {
  const rt = await open(`out-${tag}`)
  const room = await newRoom(rt)
  const window = 1000
  let sent = 0
  let acked = 0
  const t0 = process.hrtime.bigint()
  const cpu0 = process.cpuUsage()
  await new Promise((resolve) => {
    const onAck = () => {
      if (++acked === N) return resolve()
      if (sent < N) send()
    }
    const send = () => room.send(`out ${sent++}`, {}, onAck)
    while (sent < Math.min(window, N)) send()
  })
  const us = elapsedMicros(t0)
  done({ msgs: N, acks_per_sec: (N / us) * 1e6, cpu_us_per_msg: cpuMicros(process.cpuUsage(cpu0)) / N })
}

/** RSS after three collections, each followed by a pause. */
async function settledRss() {
  for (let k = 0; k < 3; k++) {
    global.gc()
    await new Promise((r) => setTimeout(r, 200))
  }
  return process.memoryUsage().rss
}

/** Opens clients `from`…`to`-1 (ids `${prefix}-${tag}-${n}`), 50 at a time, into `keep`. */
async function openMany(keep, from, to, prefix = 'rss') {
  for (let k = from; k < to; k += 50) {
    const batch = []
    for (let j = k; j < Math.min(to, k + 50); j++) batch.push(open(`${prefix}-${tag}-${j}`))
    keep.push(...(await Promise.all(batch)))
  }
}

/**
 * Loads the SDK and opens one client first, so module and runtime costs are not
 * counted. Opening many clients makes V8 grow its young generation once (to 16-32 MB
 * here), whatever the SDK: grown first, that one-off cost is not spread over the clients.
 */
async function warmUp() {
  const keep = [await open(`rss-${tag}-warm`)]
  await growYoungGeneration()
  return keep
}

/** RSS per idle connected client, N clients in this process. */
async function rss() {
  const keep = await warmUp()
  const before = await settledRss()
  await openMany(keep, 0, N)
  const after = await settledRss()
  done({ clients: N, bytes_per_client: (after - before) / N, held: keep.length })
}

/** Marginal RSS per idle client: the slope between N/5 and N clients in this process. */
async function rssSlope() {
  const keep = await warmUp()
  const low = N / 5
  await openMany(keep, 0, low)
  const atLow = await settledRss()
  await openMany(keep, low, N)
  const atN = await settledRss()
  done({ from: low, to: N, bytes_per_client: (atN - atLow) / (N - low), held: keep.length })
}

/** Keeps objects alive across scavenges until V8 has grown its young generation. */
async function growYoungGeneration() {
  let survivors = []
  for (let k = 0; k < 400000; k++) {
    survivors.push({ k, s: `x${k}` })
    if (k % 10000 === 0) await new Promise((resolve) => setImmediate(resolve))
  }
  survivors = null
}

/**
 * CPU per live inbound message: N clients in this process, each in a conversation of
 * its own, each receiving LIVE_RATE messages a second from a sender in another process,
 * evenly spaced, so that nearly every message arrives alone (no batching).
 */
async function live() {
  const RATE = 10
  const SECONDS = Number(process.env.LIVE_SECONDS) || 10
  const WARM = 1000
  const senderId = `live-sender-${tag}`
  const clients = []
  await openMany(clients, 0, N, 'live')
  const rooms = await Promise.all(clients.map((rt) => new Promise((resolve) => rt.room({ members: [senderId] }, resolve))))
  let got = 0
  let measuring = false
  let counted = 0
  for (const rt of clients) {
    rt.on('message', () => {
      got++
      if (measuring) counted++
    })
  }
  const { spawn } = require('node:child_process')
  const sender = spawn(process.execPath, [require('node:path').join(__dirname, 'live-sender.js'), router, senderId, rooms.map((r) => r.id).join(','), String(RATE), String(SECONDS + 2)], { stdio: ['ignore', 'pipe', 'inherit'] })
  // The sender logs in and looks its rooms up first: the warm-up starts at its first message.
  while (got === 0) await new Promise((resolve) => setTimeout(resolve, 10))
  await new Promise((resolve) => setTimeout(resolve, WARM))
  measuring = true
  const cpu0 = process.cpuUsage()
  await new Promise((resolve) => setTimeout(resolve, SECONDS * 1000))
  const cpu = cpuMicros(process.cpuUsage(cpu0))
  measuring = false
  await new Promise((resolve) => sender.on('exit', resolve))
  done({ clients: N, msgs: counted, got, cpu_us_per_msg: cpu / counted })
}

const measures = { inbound, rtt, outbound, rss, 'rss-slope': rssSlope, live }
if (!measures[measure]) {
  console.error(`unknown measure ${measure}`)
  process.exit(2)
}
measures[measure]().catch((err) => {
  console.error(err)
  process.exit(1)
})
