'use strict'
// Leaving LeanCloud, end to end and without LeanCloud: `leanrt-server export` against a
// local fake of its REST API (scan pages with cursors, history newest first, one 429 and
// one 500), killed half-way and resumed; `leanrt-server import` of what it wrote into a
// fresh data file, twice; then the ORIGINAL 2.4.0 SDK reads the conversations and the
// whole history back from leanrt-server, byte for byte, and a member that logs in gets
// none of the imported messages pushed as new.
const { test, before, after } = require('node:test')
const assert = require('node:assert/strict')
const { spawn } = require('node:child_process')
const fs = require('node:fs')
const http = require('node:http')
const os = require('node:os')
const path = require('node:path')

const { fakeLeanCloud, newestFirst } = require('./helpers/fake-leancloud')
const { startServer, stopAll, binaryPath } = require('./helpers/server')
const { originalFactory, closeAll, assertNoUncaught } = require('./helpers/original')
const { sleep } = require('./leanrt-common')

const APP = 'lcApp'
const KEY = 'masterKEY-never-written'
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'leanrt-migration-'))

/** A 24-hex objectId from a number. */
const oid = (n) => 'a' + n.toString(16).padStart(23, '0')
const MAIN = oid(1)
const ROOM = oid(2)
const UNIQUE = oid(3)
const SYS = oid(4)

const extras = {
  geo: { __type: 'GeoPoint', latitude: 39.9, longitude: 116.4 },
  owner: { __type: 'Pointer', className: '_User', objectId: '5cc6abe117b54d7448151efc' },
  due: { __type: 'Date', iso: '2020-11-04T03:29:17.441Z' },
  avatar: { __type: 'File', id: '5fa23c1b8e7a9b1c2d3e4f50' },
  raw: { __type: 'Bytes', base64: 'aGVsbG8=' },
  ACL: { '*': { read: true, write: true } }
}

function fixtureConversations () {
  const rows = [
    Object.assign({ objectId: MAIN, c: 'alice', m: ['alice', 'bob'], name: 'main', attr: { topic: 't', nested: { a: 1 } }, tr: false, createdAt: '2019-04-29T07:46:41.687Z', updatedAt: '2020-11-04T03:29:17.441Z', lm: { __type: 'Date', iso: '2020-11-04T03:29:17.441Z' } }, extras),
    { objectId: ROOM, c: 'alice', m: [], name: 'room', tr: true, createdAt: '2019-05-01T00:00:00.000Z', updatedAt: '2019-05-01T00:00:00.000Z' },
    { objectId: UNIQUE, c: 'alice', m: ['alice', 'carol'], unique: true, uniqueId: '6c7b0e5afcae9aa1139a0afa25833dec', createdAt: '2019-05-02T00:00:00.000Z', updatedAt: '2019-05-02T00:00:00.000Z' },
    { objectId: SYS, c: 'admin', m: [], name: 'notices', sys: true, createdAt: '2019-05-03T00:00:00.000Z', updatedAt: '2019-05-03T00:00:00.000Z' }
  ]
  for (let i = 5; i < 2305; i++) {
    rows.push({ objectId: oid(i), c: `x${i}`, m: [`x${i}`, `y${i}`], createdAt: '2019-06-01T00:00:00.000Z', updatedAt: '2019-06-01T00:00:00.000Z', msg: 'last', msg_mid: 'z' })
  }
  return rows
}

const DATA = [
  '今天天气不错！',
  '{"_lctype":-1,"_lctext":"hi","_lcattrs":{"k":"v"}}',
  '  spaced  \t and\nnewline ',
  'quote " backslash \\ and \u2028 separator',
  '😀 emoji'
]

function record (to, i, ts, data, extra = {}) {
  return Object.assign({ timestamp: ts, 'conv-id': `${to}00000000`, data, from: i % 2 ? 'bob' : 'alice', 'msg-id': `m-${to.slice(-4)}-${String(i).padStart(5, '0')}`, 'is-conv': true, 'is-room': false, to, bin: false, 'from-ip': i % 3 ? '202.117.15.217' : null }, extra)
}

function fixtureMessages () {
  const out = []
  const t0 = 1600000000000
  for (let i = 0; i < 2600; i++) {
    // Pairs share a timestamp: paging must go by timestamp and msg-id.
    const extra = i % 4 === 0 ? { 'ack-at': t0 + i * 10 + 5 } : {}
    out.push(record(MAIN, i, t0 + Math.floor(i / 2) * 20, DATA[i % DATA.length] + ` #${i}`, extra))
  }
  for (let i = 0; i < 30; i++) out.push(record(ROOM, i, t0 + 7 + i * 50, `room ${i}`))
  out.push(record(UNIQUE, 0, t0 + 3, { _lctype: -1, _lctext: 'object data' }))
  for (let i = 1; i < 5; i++) out.push(record(UNIQUE, i, t0 + 3 + i, `u${i}`, i === 4 ? { bin: true, data: 'AAEC' } : {}))
  for (let i = 0; i < 3; i++) {
    out.push({ timestamp: t0 + i, 'conv-id': '219946ef32e40c515d33ae6975a5c593', data: 'v1 peer', from: 'bob', 'msg-id': `v1-${i}`, 'is-conv': false, 'is-room': false, to: 'carol', bin: false, 'from-ip': null })
  }
  return out
}

const conversations = fixtureConversations()
const messages = fixtureMessages()
const mapped = messages.filter((m) => m['is-conv'])
let lc
let srv

/** Runs the binary with `args`; resolves {code, signal, stdout, stderr}. `onStderr`
 * sees stderr as it comes, with the child. */
function run (args, { env = {}, onSpawn } = {}) {
  return new Promise((resolve) => {
    const child = spawn(binaryPath(), args, { env: Object.assign({}, process.env, env), stdio: ['ignore', 'pipe', 'pipe'] })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (d) => { stdout += d })
    child.stderr.on('data', (d) => { stderr += d })
    const timer = setTimeout(() => child.kill('SIGKILL'), 120000)
    if (onSpawn) onSpawn(child)
    child.on('exit', (code, signal) => {
      clearTimeout(timer)
      resolve({ code, signal, stdout, stderr })
    })
  })
}

const exportDir = path.join(tmp, 'export')
const exportArgs = (extra = []) => ['export', '--api', lc.url, '--app-id', APP, '--master-key', KEY, '--out', exportDir, ...extra]

function state () {
  try { return JSON.parse(fs.readFileSync(path.join(exportDir, 'export-state.json'), 'utf8')) } catch (_) { return null }
}

function jsonLines (file) {
  return fs.readFileSync(file, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l))
}

function exportedMessages () {
  const dir = path.join(exportDir, 'messages')
  return fs.readdirSync(dir).sort().flatMap((f) => jsonLines(path.join(dir, f)))
}

/** Every file under `dir`, recursively. */
function allFiles (dir) {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => e.isDirectory() ? allFiles(path.join(dir, e.name)) : [path.join(dir, e.name)])
}

before(async () => {
  lc = await fakeLeanCloud({
    appId: APP,
    masterKey: KEY,
    conversations,
    messages,
    failOnce: { '/1.1/scan/classes/_Conversation#2': 429, '/1.2/rtm/messages#4': 500 }
  })
})

after(async () => {
  await closeAll()
  await stopAll()
  if (lc) await lc.close()
  fs.rmSync(tmp, { recursive: true, force: true })
})

test('export refuses bad credentials and a wrong domain, without printing the key', async () => {
  const bad = await run(['export', '--api', lc.url, '--app-id', APP, '--master-key', 'wrong-key', '--out', path.join(tmp, 'bad')])
  assert.equal(bad.code, 1)
  assert.match(bad.stderr, /refused the credentials \(HTTP 401/)
  assert.match(bad.stderr, /--master-key/)
  assert.ok(!bad.stderr.includes('wrong-key') && !bad.stdout.includes('wrong-key'))
  const closed = await run(['export', '--api', 'http://127.0.0.1:1', '--app-id', APP, '--master-key', KEY, '--out', path.join(tmp, 'bad2')])
  assert.equal(closed.code, 1)
  assert.match(closed.stderr, /cannot reach http:\/\/127\.0\.0\.1:1: .*check --api/)
  // A host that answers, but not as LeanCloud: JSON 404s for every path, and a web page.
  const notApi = http.createServer((req, res) => { res.statusCode = 404; res.end('{"error":"not found"}') })
  await new Promise((resolve) => notApi.listen(0, '127.0.0.1', resolve))
  const wrong = await run(['export', '--api', `http://127.0.0.1:${notApi.address().port}`, '--app-id', APP, '--master-key', KEY, '--out', path.join(tmp, 'bad3')])
  notApi.close()
  assert.equal(wrong.code, 1)
  assert.match(wrong.stderr, /scanning _Conversation: HTTP 404: .*check --api/)
  const page = http.createServer((req, res) => res.end('<html>welcome</html>'))
  await new Promise((resolve) => page.listen(0, '127.0.0.1', resolve))
  const html = await run(['export', '--api', `http://127.0.0.1:${page.address().port}`, '--app-id', APP, '--master-key', KEY, '--out', path.join(tmp, 'bad4')])
  page.close()
  assert.equal(html.code, 1)
  assert.match(html.stderr, /is not a LeanCloud API \(HTTP 200, <html>welcome<\/html>\); check --api/)
})

test('export: killed half-way, resumed, every record exactly once; the key is nowhere', async () => {
  let killedAt = null
  const first = await run(exportArgs(['--rate', '4']), {
    onSpawn: (child) => {
      const poll = setInterval(() => {
        const s = state()
        if (s && s.messages.pages >= 1) {
          clearInterval(poll)
          killedAt = s
          child.kill('SIGKILL')
        }
      }, 5)
      child.on('exit', () => clearInterval(poll))
    }
  })
  assert.equal(first.signal, 'SIGKILL', `the export ended before it could be killed: ${first.stdout} ${first.stderr}`)
  assert.ok(killedAt.conversations.done && !killedAt.messages.done)
  const resumed = await run(exportArgs(['--rate', '20']))
  assert.equal(resumed.code, 0, resumed.stderr)
  assert.match(resumed.stderr, /resuming the export/)
  assert.match(resumed.stdout, new RegExp(`exported ${conversations.length} conversations and ${messages.length} messages`))

  const rows = jsonLines(path.join(exportDir, '_Conversation.jsonl'))
  assert.deepEqual(rows.map((r) => r.objectId), conversations.map((c) => c.objectId).sort())
  assert.deepEqual(rows.find((r) => r.objectId === MAIN), conversations[0])
  const got = exportedMessages()
  assert.deepEqual(got, messages.slice().sort(newestFirst), 'every record once, newest first, as served')

  // The 429 and the 500 were each retried once.
  const scans = lc.requests.filter((r) => r.path === '/1.1/scan/classes/_Conversation')
  assert.equal(scans.length, 3 + 1)
  for (const f of allFiles(exportDir)) {
    assert.ok(!fs.readFileSync(f, 'utf8').includes(KEY), `${f} holds the master key`)
  }
  assert.ok(!resumed.stderr.includes(KEY) && !first.stderr.includes(KEY))
  // Every request carried the master key as LeanCloud wants it.
  assert.ok(lc.requests.every((r) => r.headers['x-lc-key'] === `${KEY},master` || r.headers['x-lc-key'] === 'wrong-key,master'))
})

test('import: counts, unmapped records, and a second run that changes nothing', async () => {
  const db = path.join(tmp, 'leanrt.db')
  const unmapped = path.join(tmp, 'unmapped.jsonl')
  const once = await run(['import', exportDir, '--db', db, '--unmapped', unmapped])
  assert.equal(once.code, 0, once.stderr)
  assert.match(once.stdout, new RegExp(`imported ${conversations.length} conversations \\(${conversations.length} new\\) and ${mapped.length} messages; 0 duplicates skipped; 3 unmapped records`))
  const lines = jsonLines(unmapped)
  assert.deepEqual(lines.map((l) => l.record['msg-id']).sort(), ['v1-0', 'v1-1', 'v1-2'])
  assert.match(lines[0].at, /messages\/000001\.jsonl:\d+/)
  const twice = await run(['import', exportDir, '--db', db, '--unmapped', unmapped])
  assert.equal(twice.code, 0, twice.stderr)
  assert.match(twice.stdout, new RegExp(`\\(0 new\\) and 0 messages; ${mapped.length} duplicates skipped`))
})

/** Resolves the callback value of `fn(cb)`, or fails after `ms`. */
function call (what, fn, ms = 10000) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${what}: no callback in ${ms} ms`)), ms)
    fn((v) => { clearTimeout(timer); resolve(v) })
  })
}

/** The raw frames of `cmd` that `client` received. */
function rawFrames (client, cmd) {
  return (client.cache.rawIn || []).map((t) => JSON.parse(t)).filter((f) => f.cmd === cmd)
}

test('the original 2.4.0 SDK reads the imported conversations and history back, byte for byte', async () => {
  srv = await startServer({ app: APP, dbPath: path.join(tmp, 'leanrt.db') })
  const rt = originalFactory(srv.routerUrl)
  const received = []
  let alice
  await call('open', (cb) => { alice = rt({ appId: APP, clientId: 'alice' }, cb) })
  alice.on('message', (m) => received.push(m))

  const found = await call('query', (cb) => alice.query({ where: { m: 'alice' }, limit: 100 }, cb))
  assert.deepEqual(found.map((c) => c.objectId).sort(), [MAIN, UNIQUE])
  const main = rawFrames(alice, 'conv').flatMap((f) => f.results || []).find((c) => c.objectId === MAIN)
  const fixture = conversations[0]
  for (const k of ['c', 'm', 'name', 'attr', 'createdAt', 'updatedAt', 'geo', 'owner', 'due', 'avatar', 'raw', 'ACL']) {
    assert.deepEqual(main[k], fixture[k], k)
  }
  assert.ok(main.lm && main.lm.__type === 'Date', 'lm is a Date')
  assert.equal(main.msg, undefined, 'last-message keys of the export are not part of the record')
  const unique = found.find((c) => c.objectId === UNIQUE)
  assert.equal(unique.uniqueId, '6c7b0e5afcae9aa1139a0afa25833dec')

  const room = await call('room', (cb) => alice.room(MAIN, cb))
  const history = []
  let page = await call('log', (cb) => room.log({ limit: 1000 }, cb))
  const pages = []
  while (page.length) {
    pages.push(rawFrames(alice, 'logs').pop().logs)
    history.unshift(...page)
    if (page.length < 1000) break
    page = await call('log', (cb) => room.log({ t: page[0].timestamp, mid: page[0].msgId, limit: 1000 }, cb))
  }
  const raw = pages.reverse().flat()
  const expected = mapped.filter((r) => r.to === MAIN).sort(newestFirst).reverse()
  assert.equal(raw.length, expected.length)
  assert.deepEqual(raw.map((l) => [l.msgId, l.from, l.data, l.timestamp, l.ackAt]),
    expected.map((r) => [r['msg-id'], r.from, r.data, r.timestamp, r['ack-at']]))
  const uniqueRoom = await call('room', (cb) => alice.room(UNIQUE, cb))
  await call('log', (cb) => uniqueRoom.log({ limit: 10 }, cb))
  const uniqueLogs = rawFrames(alice, 'logs').pop().logs
  assert.equal(uniqueLogs[0].data, '{"_lctext":"object data","_lctype":-1}', 'object data is serialized')
  assert.equal(uniqueLogs[4].data, 'AAEC')

  // Nothing imported is new to anyone: bob logs in and is pushed nothing, then gets a
  // fresh message live (so the wait above could have seen a push).
  let bob
  const bobGot = []
  await call('open bob', (cb) => { bob = rt({ appId: APP, clientId: 'bob' }, cb) })
  bob.on('message', (m) => bobGot.push(m))
  await sleep(1500)
  assert.deepEqual(bobGot, [], 'no imported message is pushed at login')
  await call('send', (cb) => room.send('after the move', cb))
  const deadline = Date.now() + 5000
  while (!bobGot.length && Date.now() < deadline) await sleep(20)
  assert.deepEqual(bobGot.map((m) => m.msg), ['after the move'])
  assert.deepEqual(received, [])
  assertNoUncaught(assert)
})

test('leanrt-server speaks enough of the API for export itself: scan, count and history come back whole', async () => {
  // The imported server, now with its REST API open: the same export tool reads it
  // back, history through the app-wide endpoint (cross-conversation ties at one
  // millisecond included).
  await closeAll()
  await srv.stop()
  srv = await startServer({ app: APP, dbPath: path.join(tmp, 'leanrt.db'), args: ['--api-key', `${APP}:${KEY}`] })
  const again = path.join(tmp, 'export-again')
  const out = await run(['export', '--api', srv.routerUrl, '--app-id', APP, '--master-key', KEY, '--out', again, '--rate', '1000'])
  assert.equal(out.code, 0, out.stderr)
  assert.doesNotMatch(out.stderr, /refused/)
  const rows = jsonLines(path.join(again, '_Conversation.jsonl'))
  assert.deepEqual(rows.map((r) => r.objectId).sort(), conversations.map((c) => c.objectId).sort())
  const main = rows.find((r) => r.objectId === MAIN)
  for (const k of ['c', 'm', 'name', 'attr', 'createdAt', 'geo', 'owner', 'due', 'avatar', 'raw', 'ACL']) {
    assert.deepEqual(main[k], conversations[0][k], k)
  }
  const dir = path.join(again, 'messages')
  const back = fs.readdirSync(dir).sort().flatMap((f) => jsonLines(path.join(dir, f)))
  const text = (d) => typeof d === 'string' ? d : JSON.stringify(Object.fromEntries(Object.entries(d).sort()))
  const key = (r) => [r['msg-id'], r.to, r.from, r.timestamp, text(r.data)].join('|')
  const live = back.filter((r) => r.data === 'after the move')
  assert.equal(live.length, 1, 'the message sent after the import')
  assert.deepEqual(back.filter((r) => r.data !== 'after the move').map(key).sort(), mapped.map(key).sort())
  assert.equal(new Set(back.map((r) => r['msg-id'])).size, back.length, 'no record twice')
})
