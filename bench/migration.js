'use strict'
// `npm run bench:migration`: the migration path and the REST API, measured in one run.
//
//   node bench/migration.js [--smoke] [--convs N] [--per N]
//
// 1. import: an export of N conversations with `per` messages each, into a fresh data
//    file (on disk, then on /dev/shm), timed; data file bytes per message.
// 2. sending: the same messages sent through REST (`POST /1.2/rtm/conversations/{id}/
//    messages`, one request per connection, as the API closes them) and through the
//    WebSocket (`direct`, a raw v2 client), side by side, 8 senders each; rate and
//    latency percentiles, on disk and on /dev/shm.
// 3. reading: history pages of 1000 per conversation and across the app, and the
//    whole app exported back with `leanrt-server export`.
//
// --smoke: tiny sizes and the debug binary (run by `npm test`). Prints a table and one
// `RESULT {json}` line.
const fs = require('node:fs')
const http = require('node:http')
const os = require('node:os')
const path = require('node:path')
const { spawn } = require('node:child_process')
const WebSocket = require('ws')

const argv = process.argv.slice(2)
const smoke = argv.includes('--smoke')
const opt = (name, dflt) => {
  const at = argv.indexOf(name)
  return at >= 0 ? Number(argv[at + 1]) : dflt
}
const CONVS = opt('--convs', smoke ? 50 : 20000)
const PER = opt('--per', smoke ? 10 : 50)
const SENDS = smoke ? 200 : 5000
const SENDERS = 8
const root = path.join(__dirname, '..')
const BIN = path.join(root, 'target', smoke ? 'debug' : 'release', 'leanrt-server')
const APP = 'benchApp'
const KEY = 'bench-master-key'

const oid = (n) => 'b' + n.toString(16).padStart(23, '0')

function run (args) {
  return new Promise((resolve, reject) => {
    const child = spawn(BIN, args, { stdio: ['ignore', 'pipe', 'pipe'] })
    let out = ''
    let err = ''
    child.stdout.on('data', (d) => { out += d })
    child.stderr.on('data', (d) => { err += d })
    child.on('close', (code) => code === 0 ? resolve(out) : reject(new Error(`${args[0]} exited ${code}: ${err.slice(-2000)}`)))
  })
}

function serve (db) {
  return new Promise((resolve, reject) => {
    const child = spawn(BIN, ['--listen', '127.0.0.1:0', '--db', db, '--app', APP, '--api-key', `${APP}:${KEY}`, '--rate-limit', '0', '--log', 'warn'], { stdio: ['ignore', 'pipe', 'inherit'] })
    let out = ''
    child.stdout.on('data', (d) => {
      out += d
      const m = /listening on http:\/\/([^\s]+)/.exec(out)
      if (m) resolve({ child, base: `http://${m[1]}`, ws: `ws://${m[1]}/` })
    })
    child.on('close', (code) => reject(new Error(`server exited ${code}`)))
  })
}

function stop (srv) {
  return new Promise((resolve) => {
    srv.child.removeAllListeners('close')
    srv.child.on('close', resolve)
    srv.child.kill('SIGTERM')
  })
}

/** Writes an export directory: `_Conversation.jsonl` and `messages/000001.jsonl`. */
function makeExport (dir) {
  fs.mkdirSync(path.join(dir, 'messages'), { recursive: true })
  const convs = []
  for (let c = 0; c < CONVS; c++) {
    convs.push(JSON.stringify({ objectId: oid(c), c: `u${c}`, m: [`u${c}`, `v${c}`], name: `conv ${c}`, createdAt: '2020-01-01T00:00:00.000Z', updatedAt: '2020-01-01T00:00:00.000Z' }))
  }
  fs.writeFileSync(path.join(dir, '_Conversation.jsonl'), convs.join('\n') + '\n')
  const out = fs.openSync(path.join(dir, 'messages', '000001.jsonl'), 'w')
  const t0 = 1600000000000
  let lines = []
  for (let c = 0; c < CONVS; c++) {
    for (let i = 0; i < PER; i++) {
      lines.push(JSON.stringify({ timestamp: t0 + i * 1000 + c, 'conv-id': `${oid(c)}00000000`, data: `{"_lctype":-1,"_lctext":"message ${i} of conversation ${c}"}`, from: i % 2 ? `u${c}` : `v${c}`, 'msg-id': `m${c}-${i}`, 'is-conv': true, 'is-room': false, to: oid(c), bin: false, 'from-ip': null }))
      if (lines.length >= 10000) { fs.writeSync(out, lines.join('\n') + '\n'); lines = [] }
    }
  }
  if (lines.length) fs.writeSync(out, lines.join('\n') + '\n')
  fs.closeSync(out)
}

function dbBytes (db) {
  return ['', '-wal'].reduce((n, s) => n + (fs.existsSync(db + s) ? fs.statSync(db + s).size : 0), 0)
}

async function importInto (dir, db) {
  const t = process.hrtime.bigint()
  await run(['import', dir, '--db', db, '--unmapped', path.join(path.dirname(db), 'unmapped.jsonl')])
  const s = Number(process.hrtime.bigint() - t) / 1e9
  return { seconds: s, messagesPerSecond: Math.round(CONVS * PER / s), bytesPerMessage: Math.round(dbBytes(db) / (CONVS * PER)) }
}

const pct = (sorted, p) => sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))]
function summary (latencies, seconds) {
  const s = [...latencies].sort((a, b) => a - b)
  return { perSecond: Math.round(latencies.length / seconds), p50: +pct(s, 0.5).toFixed(2), p99: +pct(s, 0.99).toFixed(2), max: +s[s.length - 1].toFixed(2) }
}

function post (base, p, body) {
  return new Promise((resolve, reject) => {
    const data = JSON.stringify(body)
    const req = http.request(`${base}${p}`, { method: 'POST', headers: { 'X-LC-Id': APP, 'X-LC-Key': `${KEY},master`, 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(data) }, agent: false }, (res) => {
      let text = ''
      res.on('data', (d) => { text += d })
      res.on('end', () => res.statusCode === 200 ? resolve(JSON.parse(text)) : reject(new Error(`${res.statusCode} ${text}`)))
    })
    req.on('error', reject)
    req.end(data)
  })
}

function get (base, p) {
  return new Promise((resolve, reject) => {
    http.get(`${base}${p}`, { headers: { 'X-LC-Id': APP, 'X-LC-Key': `${KEY},master` }, agent: false }, (res) => {
      let text = ''
      res.on('data', (d) => { text += d })
      res.on('end', () => res.statusCode === 200 ? resolve(JSON.parse(text)) : reject(new Error(`${res.statusCode} ${text}`)))
    }).on('error', reject)
  })
}

async function restSends (base) {
  const latencies = []
  let next = 0
  const t = process.hrtime.bigint()
  await Promise.all(Array.from({ length: SENDERS }, async (_, w) => {
    while (next < SENDS) {
      const n = next++
      const s = process.hrtime.bigint()
      await post(base, `/1.2/rtm/conversations/${oid(n % CONVS)}/messages`, { from_client: `u${n % CONVS}`, message: `rest ${n}` })
      latencies.push(Number(process.hrtime.bigint() - s) / 1e6)
    }
  }))
  return summary(latencies, Number(process.hrtime.bigint() - t) / 1e9)
}

/** A raw v2 client: one socket, one session, sends awaited one at a time. */
function wsClient (url, clientId) {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url)
    const waiting = new Map()
    let i = 0
    ws.on('message', (text) => {
      const f = JSON.parse(text)
      if (f.cmd === 'session' && f.op === 'opened') resolve(client)
      if (f.cmd === 'ack' && waiting.has(f.i)) { waiting.get(f.i)(); waiting.delete(f.i) }
      if (f.cmd === 'direct') ws.send(JSON.stringify({ cmd: 'ack', cid: f.cid, mid: f.id, peerId: clientId }))
    })
    ws.on('error', reject)
    ws.on('open', () => ws.send(JSON.stringify({ cmd: 'session', op: 'open', appId: APP, peerId: clientId, i: ++i })))
    const client = {
      send: (cid, msg) => new Promise((resolve) => {
        const id = ++i
        waiting.set(id, resolve)
        ws.send(JSON.stringify({ cmd: 'direct', cid, msg, i: id, peerId: clientId }))
      }),
      close: () => ws.close()
    }
  })
}

async function wsSends (url) {
  const latencies = []
  let next = 0
  const clients = await Promise.all(Array.from({ length: SENDERS }, (_, w) => wsClient(url, `u${w}`)))
  const t = process.hrtime.bigint()
  await Promise.all(clients.map(async (c, w) => {
    while (next < SENDS) {
      const n = next++
      const s = process.hrtime.bigint()
      // u{w} is a member of conversation w; spread the load over the first SENDERS.
      await c.send(oid(w), `ws ${n}`)
      latencies.push(Number(process.hrtime.bigint() - s) / 1e6)
    }
  }))
  const r = summary(latencies, Number(process.hrtime.bigint() - t) / 1e9)
  clients.forEach((c) => c.close())
  return r
}

async function timed (fn) {
  const t = process.hrtime.bigint()
  const value = await fn()
  return { ms: +(Number(process.hrtime.bigint() - t) / 1e6).toFixed(1), value }
}

async function main () {
  if (!fs.existsSync(BIN)) throw new Error(`${BIN} is missing: build it first (npm run build${smoke ? '' : ' -- --release'})`)
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'leanrt-bench-migration-'))
  const shm = fs.existsSync('/dev/shm') ? fs.mkdtempSync('/dev/shm/leanrt-bench-migration-') : null
  const exportDir = path.join(work, 'export')
  makeExport(exportDir)
  const result = { convs: CONVS, perConversation: PER, sends: SENDS, senders: SENDERS, profile: smoke ? 'debug' : 'release' }
  try {
    for (const [where, dir] of [['disk', work], ['shm', shm]]) {
      if (!dir) continue
      const db = path.join(dir, 'leanrt.db')
      result[`import_${where}`] = await importInto(exportDir, db)
      const srv = await serve(db)
      result[`rest_send_${where}`] = await restSends(srv.base)
      result[`ws_send_${where}`] = await wsSends(srv.ws)
      if (where === 'disk') {
        result.history_page_conversation = await timed(() => get(srv.base, `/1.2/rtm/conversations/${oid(0)}/messages?limit=1000`)).then((r) => ({ ms: r.ms, records: r.value.length }))
        result.history_page_app = await timed(() => get(srv.base, '/1.2/rtm/messages?limit=1000')).then((r) => ({ ms: r.ms, records: r.value.length }))
        const back = path.join(work, 'back')
        result.export_back = await timed(() => run(['export', '--api', srv.base, '--app-id', APP, '--master-key', KEY, '--out', back, '--rate', '100000'])).then((r) => ({ seconds: +(r.ms / 1000).toFixed(2), summary: r.value.trim().replace(/ to \S+$/, '') }))
      }
      await stop(srv)
    }
  } finally {
    fs.rmSync(work, { recursive: true, force: true })
    if (shm) fs.rmSync(shm, { recursive: true, force: true })
  }
  const rows = [
    ['import (disk)', `${result.import_disk.seconds.toFixed(2)} s, ${result.import_disk.messagesPerSecond} msg/s, ${result.import_disk.bytesPerMessage} B/msg in the data file`],
    ['import (/dev/shm)', result.import_shm ? `${result.import_shm.seconds.toFixed(2)} s, ${result.import_shm.messagesPerSecond} msg/s` : 'n/a'],
    ...['disk', 'shm'].flatMap((w) => result[`rest_send_${w}`]
      ? [[`REST send (${w})`, fmt(result[`rest_send_${w}`])], [`WebSocket direct (${w})`, fmt(result[`ws_send_${w}`])]]
      : []),
    ['history page, one conversation', `${result.history_page_conversation.ms} ms for ${result.history_page_conversation.records}`],
    ['history page, whole app', `${result.history_page_app.ms} ms for ${result.history_page_app.records}`],
    ['export of the whole app back', `${result.export_back.seconds} s (${result.export_back.summary})`]
  ]
  console.log(`\nmigration and REST, ${CONVS} conversations x ${PER} messages, ${SENDS} sends by ${SENDERS} senders, ${result.profile} build\n`)
  for (const [k, v] of rows) console.log(`${k.padEnd(32)} ${v}`)
  console.log(`RESULT ${JSON.stringify(result)}`)
}

function fmt (s) {
  return `${s.perSecond}/s, p50 ${s.p50} ms, p99 ${s.p99} ms, max ${s.max} ms`
}

main().catch((e) => {
  console.error(e)
  process.exit(1)
})
