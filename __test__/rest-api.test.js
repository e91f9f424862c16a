'use strict'
// The IM REST API subset that backends call (docs/rest.md), on a real leanrt-server with
// the ORIGINAL 2.4.0 SDK as the clients: master-key auth in every header form LeanCloud
// takes, sending in a client's name (v1.2 and v1.1, stored and transient), history with
// LeanCloud's paging semantics, conversation lookup, presence and chat room counts, and
// clear errors. A message the API acknowledged survives kill -9.
const { test, before, after } = require('node:test')
const assert = require('node:assert/strict')
const crypto = require('node:crypto')

const { startServer, stopAll } = require('./helpers/server')
const { originalFactory, closeAll, assertNoUncaught } = require('./helpers/original')
const { sleep } = require('./leanrt-common')

const APP = 'restApp'
const KEY = 'rest-master-key'

let srv
let rt
let alice
let bob
let room
const bobGot = []
const aliceGot = []

function call (what, fn, ms = 10000) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${what}: no callback in ${ms} ms`)), ms)
    fn((v) => { clearTimeout(timer); resolve(v) })
  })
}

async function until (what, check, ms = 5000) {
  const deadline = Date.now() + ms
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`${what}: not within ${ms} ms`)
    await sleep(20)
  }
}

function reset () {
  bobGot.length = 0
  aliceGot.length = 0
}

const master = { 'X-LC-Id': APP, 'X-LC-Key': `${KEY},master` }

/** A REST call: its status and parsed body. */
async function api (method, path, { body, headers = master, raw } = {}) {
  const res = await fetch(`${srv.routerUrl}${path}`, {
    method,
    headers: Object.assign({ 'Content-Type': 'application/json' }, headers),
    body: raw !== undefined ? raw : body === undefined ? undefined : JSON.stringify(body)
  })
  const text = await res.text()
  return { status: res.status, body: JSON.parse(text) }
}

before(async () => {
  srv = await startServer({ app: APP, args: ['--api-key', `${APP}:${KEY}`] })
  rt = originalFactory(srv.routerUrl)
  await call('open alice', (cb) => { alice = rt({ appId: APP, clientId: 'alice' }, cb) })
  await call('open bob', (cb) => { bob = rt({ appId: APP, clientId: 'bob' }, cb) })
  alice.on('message', (m) => aliceGot.push(m))
  bob.on('message', (m) => bobGot.push(m))
  room = await call('room', (cb) => alice.room({ name: 'ops', members: ['bob'] }, cb))
})

after(async () => {
  await closeAll()
  await stopAll()
})

test('auth: the master key in every form LeanCloud takes; anything else is 401', async () => {
  reset()
  const path = `/1.2/rtm/conversations/${room.id}/messages`
  const refused = { code: 401, error: 'Unauthorized.' }
  const ts = String(Date.now())
  const md5 = (s) => crypto.createHash('md5').update(s).digest('hex')
  for (const headers of [
    {},
    { 'X-LC-Id': APP },
    { 'X-LC-Id': APP, 'X-LC-Key': KEY }, // an app key, not marked master
    { 'X-LC-Id': APP, 'X-LC-Key': 'wrong,master' },
    { 'X-LC-Id': 'otherApp', 'X-LC-Key': `${KEY},master` },
    { 'X-LC-Id': APP, 'X-LC-Sign': `${md5(ts + 'wrong')},${ts},master` },
    { 'X-LC-Id': APP, 'X-LC-Sign': `${md5('1000' + KEY)},1000,master` } // stale
  ]) {
    const r = await api('GET', path, { headers })
    assert.equal(r.status, 401, JSON.stringify(headers))
    assert.deepEqual(r.body, refused)
  }
  for (const headers of [
    master,
    { 'X-LC-Id': APP, 'X-LC-Sign': `${md5(ts + KEY)},${ts},master` },
    { 'X-AVOSCloud-Application-Id': APP, 'X-AVOSCloud-Master-Key': KEY },
    { 'X-AVOSCloud-Application-Id': APP, 'X-AVOSCloud-Request-Sign': `${md5(ts + KEY).toUpperCase()},${ts},master` }
  ]) {
    const r = await api('GET', path, { headers })
    assert.equal(r.status, 200, JSON.stringify(headers))
    assert.deepEqual(r.body, [])
  }
})

test('send in a client\'s name (v1.2): members get it live, and it is history', async () => {
  reset()
  const r = await api('POST', `/1.2/rtm/conversations/${room.id}/messages`, { body: { from_client: 'system', message: 'deploy done' } })
  assert.equal(r.status, 200)
  assert.deepEqual(Object.keys(r.body).sort(), ['msg-id', 'timestamp'])
  await until('bob and alice get it', () => bobGot.length === 1 && aliceGot.length === 1)
  for (const m of [bobGot[0], aliceGot[0]]) {
    assert.equal(m.fromPeerId, 'system')
    assert.equal(m.msg, 'deploy done')
    assert.equal(m.id, r.body['msg-id'])
    assert.equal(m.timestamp, r.body.timestamp)
  }
  // An object message is stored as its JSON text; typed messages reach 2.4.0 typed.
  const typed = { _lctype: -1, _lctext: 'typed', _lcattrs: { k: 1 } }
  const t = await api('POST', `/1.2/rtm/conversations/${room.id}/messages`, { body: { from_client: 'system', message: typed } })
  assert.equal(t.status, 200)
  await until('the typed one', () => bobGot.length === 2)
  assert.deepEqual(bobGot[1].msg, { type: 'text', text: 'typed', attr: { k: 1 } })
  const history = await api('GET', `/1.2/rtm/conversations/${room.id}/messages?limit=10`)
  assert.equal(history.status, 200)
  assert.deepEqual(history.body.map((h) => h['msg-id']), [t.body['msg-id'], r.body['msg-id']])
  assert.deepEqual(history.body[1], {
    timestamp: r.body.timestamp,
    'conv-id': `${room.id}00000000`,
    data: 'deploy done',
    from: 'system',
    'msg-id': r.body['msg-id'],
    'is-conv': true,
    'is-room': false,
    to: room.id,
    bin: false,
    'from-ip': null,
    'ack-at': history.body[1]['ack-at']
  })
  assert.ok(history.body[1]['ack-at'] >= r.body.timestamp, 'ack-at: when bob or alice acked it')
  assert.deepEqual(JSON.parse(history.body[0].data), typed)
})

test('history pages as LeanCloud documents: bounds, include_start/include_stop, reversed, limit', async () => {
  reset()
  const fresh = await call('room', (cb) => alice.room({ name: 'paging', members: ['bob'] }, cb))
  const sent = []
  for (let i = 1; i <= 5; i++) {
    const r = await api('POST', `/1.2/rtm/conversations/${fresh.id}/messages`, { body: { from_client: 'alice', message: `m${i}` } })
    assert.equal(r.status, 200)
    sent.push(r.body)
  }
  const base = `/1.2/rtm/conversations/${fresh.id}/messages`
  const ids = async (query) => {
    const r = await api('GET', `${base}?${query}`)
    assert.equal(r.status, 200, JSON.stringify(r.body))
    return r.body.map((h) => h.data)
  }
  const at = (i) => `timestamp=${sent[i - 1].timestamp}&msgid=${encodeURIComponent(sent[i - 1]['msg-id'])}`
  const till = (i) => `till_timestamp=${sent[i - 1].timestamp}&till_msgid=${encodeURIComponent(sent[i - 1]['msg-id'])}`
  assert.deepEqual(await ids(''), ['m5', 'm4', 'm3', 'm2', 'm1'])
  assert.deepEqual(await ids('limit=2'), ['m5', 'm4'])
  assert.deepEqual(await ids(`${at(4)}&limit=2`), ['m3', 'm2'], 'the next page starts past the last record')
  assert.deepEqual(await ids(`${at(4)}&${till(2)}`), ['m3'])
  assert.deepEqual(await ids(`${at(4)}&${till(2)}&include_start=true`), ['m4', 'm3'])
  assert.deepEqual(await ids(`${at(4)}&${till(2)}&include_stop=true`), ['m3', 'm2'])
  assert.deepEqual(await ids(`reversed=true&${at(2)}&${till(4)}`), ['m3'])
  assert.deepEqual(await ids(`reversed=true&${at(2)}&${till(4)}&include_start=true`), ['m2', 'm3'])
  assert.deepEqual(await ids(`reversed=true&${at(2)}&${till(4)}&include_stop=true`), ['m3', 'm4'])
  assert.deepEqual(await ids('reversed=true&limit=2'), ['m1', 'm2'])
  // v1.1: convid, max_ts as the start; the same records.
  const v11 = await api('GET', `/1.1/rtm/messages/history?convid=${fresh.id}&max_ts=${sent[3].timestamp}&msgid=${encodeURIComponent(sent[3]['msg-id'])}&limit=2`)
  assert.deepEqual(v11.body.map((h) => h.data), ['m3', 'm2'])
  const logs = await api('GET', `/1.1/rtm/messages/logs?convid=${fresh.id}&limit=1`)
  assert.deepEqual(logs.body.map((h) => h.data), ['m5'])
  // The client SDK sees the same history.
  const log = await call('log', (cb) => fresh.log({ limit: 10 }, cb))
  assert.deepEqual(log.map((m) => m.msg), ['m1', 'm2', 'm3', 'm4', 'm5'])
  // What is not served says so.
  const appWide = await api('GET', '/1.1/rtm/messages/history?limit=5')
  assert.equal(appWide.status, 501)
  assert.match(appWide.body.error, /pass convid/)
  const all = await api('GET', '/1.2/rtm/messages')
  assert.equal(all.status, 501)
  const bad = await api('GET', `${base}?limit=ten`)
  assert.deepEqual([bad.status, bad.body.code], [400, 1])
  assert.match(bad.body.error, /limit must be an integer/)
  await until('bob got all five live', () => bobGot.length === 5)
})

test('v1.1 send: transient unless told otherwise, as LeanCloud kept it', async () => {
  reset()
  const before = await api('GET', `/1.2/rtm/conversations/${room.id}/messages?limit=100`)
  const t = await api('POST', '/1.1/rtm/messages', { body: { from_peer: 'bot', conv_id: room.id, message: 'passing' } })
  assert.equal(t.status, 200)
  await until('the transient one', () => bobGot.length === 1)
  assert.equal(bobGot[0].msg, 'passing')
  const s = await api('POST', '/1.1/rtm/messages', { body: { from_peer: 'bot', conv_id: room.id, message: 'kept', transient: false } })
  assert.equal(s.status, 200)
  await until('the stored one', () => bobGot.length === 2)
  const afterSend = await api('GET', `/1.2/rtm/conversations/${room.id}/messages?limit=100`)
  assert.equal(afterSend.body.length, before.body.length + 1)
  assert.equal(afterSend.body[0].data, 'kept')
  assert.equal(afterSend.body[0]['msg-id'], s.body['msg-id'])
  const peers = await api('POST', '/1.1/rtm/messages', { body: { from_peer: 'bot', conv_id: room.id, message: 'x', to_peers: ['bob'] } })
  assert.equal(peers.status, 501)
  assert.match(peers.body.error, /to_peers/)
})

test('bad requests get LeanCloud-shaped errors', async () => {
  reset()
  const path = `/1.2/rtm/conversations/${room.id}/messages`
  const cases = [
    [await api('POST', path, { body: { message: 'no sender' } }), 400, 1, /from_client is required/],
    [await api('POST', path, { body: { from_client: 'a' } }), 400, 1, /message is required/],
    [await api('POST', path, { raw: '{"from_client":' }), 400, 1, /not JSON/],
    [await api('POST', path, { raw: '[1]' }), 400, 1, /JSON object/],
    [await api('POST', path, { body: { from_client: 'a', message: 'x'.repeat(6000) } }), 413, 4109, /./],
    [await api('POST', '/1.2/rtm/conversations/000000000000000000000000/messages', { body: { from_client: 'a', message: 'x' } }), 404, 4303, /./],
    [await api('GET', '/1.1/classes/_Conversation/000000000000000000000000'), 404, 101, /Object not found/],
    [await api('GET', '/1.2/rtm/nothing-here'), 404, 101, /not served by leanrt-server/],
    [await api('POST', '/1.2/rtm/clients/check-online', { body: { client_ids: 'alice' } }), 400, 1, /array/],
    [await api('POST', '/1.2/rtm/clients/check-online', { body: { client_ids: Array.from({ length: 21 }, (_, i) => `c${i}`) } }), 400, 1, /at most 20/]
  ]
  for (const [r, status, code, error] of cases) {
    assert.equal(r.status, status, JSON.stringify(r.body))
    assert.equal(r.body.code, code, JSON.stringify(r.body))
    assert.match(r.body.error, error)
  }
  assert.deepEqual(bobGot, [], 'nothing refused was delivered')
})

test('conversation lookup, presence and chat room counts', async () => {
  reset()
  const c = await api('GET', `/1.1/classes/_Conversation/${room.id}`)
  assert.equal(c.status, 200)
  assert.equal(c.body.objectId, room.id)
  assert.deepEqual(c.body.m, ['alice', 'bob'])
  assert.equal(c.body.name, 'ops')
  assert.equal(c.body.c, 'alice')
  const v12 = await api('GET', `/1.2/rtm/conversations/${room.id}`)
  assert.deepEqual(v12.body, c.body)

  const online = await api('POST', '/1.2/rtm/clients/check-online', { body: { client_ids: ['bob', 'nobody', 'alice'] } })
  assert.deepEqual(online.body, { results: ['bob', 'alice'] })
  const v11 = await api('POST', '/1.1/rtm/online', { body: { peers: ['alice', 'ghost'] } })
  assert.deepEqual(v11.body, { results: ['alice'] })

  const chat = await call('chat room', (cb) => alice.room({ name: 'lobby', transient: true }, cb))
  const bobs = await call('bob finds it', (cb) => bob.room(chat.id, cb))
  await call('bob joins', (cb) => bobs.join(cb))
  const sdkCount = await call('count', (cb) => chat.count(cb))
  const count = await api('GET', `/1.2/rtm/chatrooms/${chat.id}/members/online-count`)
  assert.equal(count.status, 200)
  assert.deepEqual(count.body, { result: sdkCount })
  assert.ok(sdkCount >= 1)
  const v11count = await api('GET', `/1.1/rtm/transient_group/onlines?gid=${chat.id}`)
  assert.deepEqual(v11count.body, { result: sdkCount })
  const notRoom = await api('GET', `/1.2/rtm/chatrooms/${room.id}/members/online-count`)
  assert.equal(notRoom.status, 404)

  // A message sent to the chat room reaches its participants.
  const sent = await api('POST', `/1.2/rtm/chatrooms/${chat.id}/messages`, { body: { from_client: 'host', message: 'welcome' } })
  assert.equal(sent.status, 200)
  await until('bob in the room', () => bobGot.some((m) => m.msg === 'welcome'))
})

test('a message the API acknowledged survives kill -9 and a restart', async () => {
  reset()
  const r = await api('POST', `/1.2/rtm/conversations/${room.id}/messages`, { body: { from_client: 'system', message: 'durable' } })
  assert.equal(r.status, 200)
  await srv.kill('SIGKILL')
  await srv.restart()
  const history = await api('GET', `/1.2/rtm/conversations/${room.id}/messages?limit=1`)
  assert.equal(history.status, 200)
  assert.deepEqual(history.body.map((h) => [h['msg-id'], h.data]), [[r.body['msg-id'], 'durable']])
  assertNoUncaught(assert)
})
