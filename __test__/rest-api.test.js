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
const { cb, sleep, until } = require('./leanrt-common')

const APP = 'restApp'
const KEY = 'rest-master-key'

let srv
let rt
let alice
let bob
let room
const bobGot = []
const aliceGot = []

const call = (what, fn) => cb(fn, 10000, what)
const waitFor = (what, check) => until(check, what)

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
  // Every endpoint checks the key before anything else.
  const c = room.id
  const endpoints = [
    ['GET', `/1.2/rtm/conversations/${c}/messages`], ['GET', `/1.2/rtm/chatrooms/${c}/messages`],
    ['GET', '/1.2/rtm/messages'], ['GET', '/1.2/rtm/clients/alice/messages'],
    ['GET', `/1.1/rtm/messages/history?convid=${c}`], ['GET', `/1.1/rtm/messages/logs?convid=${c}`],
    ['POST', `/1.2/rtm/conversations/${c}/messages`], ['POST', `/1.2/rtm/chatrooms/${c}/messages`], ['POST', '/1.1/rtm/messages'],
    ['POST', '/1.1/classes/_Conversation'], ['POST', '/1.2/rtm/conversations'],
    ['GET', '/1.1/classes/_Conversation'], ['GET', '/1.2/rtm/conversations'], ['GET', '/1.1/scan/classes/_Conversation'],
    ['GET', `/1.1/classes/_Conversation/${c}`], ['GET', `/1.2/rtm/conversations/${c}`],
    ['PUT', `/1.1/classes/_Conversation/${c}`], ['PUT', `/1.2/rtm/conversations/${c}`],
    ['DELETE', `/1.1/classes/_Conversation/${c}`], ['DELETE', `/1.2/rtm/conversations/${c}`],
    ['GET', `/1.2/rtm/conversations/${c}/members`], ['POST', `/1.2/rtm/conversations/${c}/members`], ['DELETE', `/1.2/rtm/conversations/${c}/members`],
    ['POST', '/1.2/rtm/clients/check-online'], ['POST', '/1.1/rtm/online'],
    ['POST', '/1.2/rtm/clients/alice/kick'], ['POST', '/1.1/rtm/client/kick'],
    ['GET', '/1.2/rtm/clients/alice/unread-count'], ['GET', '/1.1/rtm/messages/unread/alice'], ['GET', `/1.1/rtm/messages/unread/alice/${c}`],
    ['GET', `/1.2/rtm/chatrooms/${c}/members/online-count`], ['GET', `/1.2/rtm/chatrooms/${c}/members`],
    ['GET', `/1.1/rtm/transient_group/onlines?gid=${c}`], ['GET', `/1.1/rtm/transient_group/members?gid=${c}`]
  ]
  for (const [method, p] of endpoints) {
    for (const headers of [{}, { 'X-LC-Id': APP, 'X-LC-Key': 'wrong,master' }, { 'X-LC-Id': APP, 'X-LC-Sign': `${md5(ts + 'wrong')},${ts},master` }]) {
      const r = await api(method, p, { headers, body: method === 'GET' ? undefined : { from_client: 'x', message: 'never' } })
      assert.deepEqual([r.status, r.body], [401, refused], `${method} ${p} ${JSON.stringify(headers)}`)
    }
  }
  assert.equal((await api('GET', `/1.1/classes/_Conversation/${c}`)).status, 200, 'nothing refused changed anything')
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
  await waitFor('bob and alice get it', () => bobGot.length === 1 && aliceGot.length === 1)
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
  await waitFor('the typed one', () => bobGot.length === 2)
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
  assert.equal(history.body[0].data, JSON.stringify(typed), 'stored as sent, key order and all')
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
  // Across conversations: the whole app, and one sender, with the same paging.
  const across = async (p) => {
    const r = await api('GET', p)
    assert.equal(r.status, 200, JSON.stringify(r.body))
    return r.body.map((h) => h.data)
  }
  assert.deepEqual(await across('/1.2/rtm/messages?limit=3'), ['m5', 'm4', 'm3'])
  assert.deepEqual(await across(`/1.2/rtm/messages?${at(3)}&limit=2`), ['m2', 'm1'])
  assert.deepEqual(await across('/1.2/rtm/messages?reversed=true&limit=1'), ['deploy done'], 'the first message on this server')
  assert.deepEqual(await across('/1.2/rtm/clients/alice/messages?limit=10'), ['m5', 'm4', 'm3', 'm2', 'm1'])
  assert.deepEqual(await across(`/1.2/rtm/clients/system/messages?reversed=true&${till(1)}`), ['deploy done', JSON.stringify({ _lctype: -1, _lctext: 'typed', _lcattrs: { k: 1 } })])
  assert.deepEqual(await across('/1.1/rtm/messages/history?from=alice&limit=2'), ['m5', 'm4'])
  assert.deepEqual(await across(`/1.1/rtm/messages/logs?max_ts=${sent[1].timestamp}&msgid=${encodeURIComponent(sent[1]['msg-id'])}&limit=1`), ['m1'])
  const noTime = await api('GET', `/1.2/rtm/messages?msgid=${encodeURIComponent(sent[0]['msg-id'])}`)
  assert.deepEqual([noTime.status, noTime.body.code], [400, 1])
  assert.match(noTime.body.error, /needs its timestamp/)
  const bad = await api('GET', `${base}?limit=ten`)
  assert.deepEqual([bad.status, bad.body.code], [400, 1])
  assert.match(bad.body.error, /limit must be an integer/)
  await waitFor('bob got all five live', () => bobGot.length === 5)
})

test('v1.1 send: transient unless told otherwise, as LeanCloud kept it', async () => {
  reset()
  const before = await api('GET', `/1.2/rtm/conversations/${room.id}/messages?limit=100`)
  const t = await api('POST', '/1.1/rtm/messages', { body: { from_peer: 'bot', conv_id: room.id, message: 'passing' } })
  assert.equal(t.status, 200)
  await waitFor('the transient one', () => bobGot.length === 1)
  assert.equal(bobGot[0].msg, 'passing')
  const s = await api('POST', '/1.1/rtm/messages', { body: { from_peer: 'bot', conv_id: room.id, message: 'kept', transient: false } })
  assert.equal(s.status, 200)
  await waitFor('the stored one', () => bobGot.length === 2)
  const afterSend = await api('GET', `/1.2/rtm/conversations/${room.id}/messages?limit=100`)
  assert.equal(afterSend.body.length, before.body.length + 1)
  assert.equal(afterSend.body[0].data, 'kept')
  assert.equal(afterSend.body[0]['msg-id'], s.body['msg-id'])
  const peers = await api('POST', '/1.1/rtm/messages', { body: { from_peer: 'bot', conv_id: room.id, message: 'x', to_peers: ['bob'] } })
  assert.deepEqual([peers.status, peers.body.code], [400, 1])
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
    [await api('POST', path, { raw: JSON.stringify({ from_client: 'a', message: 'x'.repeat(1024 * 1024) }) }), 413, 413, /too large/],
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
  const inRoom = await api('GET', `/1.2/rtm/chatrooms/${chat.id}/members`)
  assert.equal(inRoom.status, 200)
  assert.equal(inRoom.body.result.length, sdkCount)
  assert.ok(inRoom.body.result.includes('bob'))
  assert.deepEqual(inRoom.body.result, [...inRoom.body.result].sort())
  assert.deepEqual((await api('GET', `/1.1/rtm/transient_group/members?gid=${chat.id}`)).body, inRoom.body)
  const notRoom = await api('GET', `/1.2/rtm/chatrooms/${room.id}/members/online-count`)
  assert.equal(notRoom.status, 404)

  // A message sent to the chat room reaches its participants.
  const sent = await api('POST', `/1.2/rtm/chatrooms/${chat.id}/messages`, { body: { from_client: 'host', message: 'welcome' } })
  assert.equal(sent.status, 200)
  await waitFor('bob in the room', () => bobGot.some((m) => m.msg === 'welcome'))
})

test('unread counts: what an offline member is owed, then 0 once it logged in and acked', async () => {
  reset()
  const made = await api('POST', '/1.2/rtm/conversations', { body: { name: 'unread', c: 'alice', m: ['dave', 'alice'] } })
  assert.equal(made.status, 201)
  assert.deepEqual(made.body.m, ['dave', 'alice'], 'exactly the members given')
  const id = made.body.objectId
  for (let i = 0; i < 3; i++) {
    const r = await api('POST', `/1.2/rtm/conversations/${id}/messages`, { body: { from_client: 'alice', message: `u${i}` } })
    assert.equal(r.status, 200)
  }
  const count = async (path) => {
    const r = await api('GET', path)
    assert.equal(r.status, 200, JSON.stringify(r.body))
    return r.body.count
  }
  assert.equal(await count('/1.2/rtm/clients/dave/unread-count'), 3)
  assert.equal(await count(`/1.2/rtm/clients/dave/unread-count?conv_id=${id}`), 3)
  assert.equal(await count(`/1.2/rtm/clients/dave/unread-count?conv_id=${room.id}`), 0)
  assert.equal(await count('/1.1/rtm/messages/unread/dave'), 3)
  assert.equal(await count(`/1.1/rtm/messages/unread/dave/${id}`), 3)
  assert.equal(await count(`/1.2/rtm/clients/alice/unread-count?conv_id=${id}`), 0, 'her own messages')
  const got = []
  let dave
  // Listening from the open callback on: the login push may come in the same read.
  await call('open dave', (cb) => {
    dave = rt({ appId: APP, clientId: 'dave' }, (opened) => {
      dave.on('message', (m) => got.push(m.msg))
      cb(opened)
    })
  })
  await waitFor('dave gets what he was owed', () => got.length === 3)
  assert.deepEqual(got, ['u0', 'u1', 'u2'])
  const deadline = Date.now() + 5000
  while (await count('/1.2/rtm/clients/dave/unread-count') !== 0) {
    assert.ok(Date.now() < deadline, 'his acks bring the count to 0')
    await sleep(50)
  }
})

test('conversations as a class: create, query, count, update with __op on m, delete, scan', async () => {
  reset()
  const base = '/1.1/classes/_Conversation'
  const made = await api('POST', base, { body: { name: 'class one', c: 'alice', m: ['alice', 'erin'], level: 1, ACL: { '*': { read: true } } } })
  assert.equal(made.status, 201)
  assert.deepEqual(Object.keys(made.body).sort(), ['createdAt', 'objectId'])
  const id = made.body.objectId
  const full = await api('POST', `${base}?fetchWhenSave=true`, { body: { name: 'class two', m: { __op: 'AddUnique', objects: ['erin'] } } })
  assert.equal(full.status, 201)
  assert.deepEqual([full.body.name, full.body.m, full.body.c], ['class two', ['erin'], ''])
  const two = full.body.objectId
  const one = await api('GET', `${base}/${id}`)
  assert.deepEqual([one.body.level, one.body.ACL, one.body.m], [1, { '*': { read: true } }, ['alice', 'erin']])

  const put = async (body, query = '') => api('PUT', `${base}/${id}${query}`, { body })
  const added = await put({ m: { __op: 'AddUnique', objects: ['frank', 'erin'] }, level: 2 })
  assert.equal(added.status, 200)
  assert.deepEqual(Object.keys(added.body).sort(), ['objectId', 'updatedAt'])
  assert.deepEqual((await api('GET', `${base}/${id}`)).body.m, ['alice', 'erin', 'frank'])
  await put({ m: { __op: 'Remove', objects: ['erin'] } })
  const set = await put({ m: ['frank', 'gina'], 'attr.color': 'red' }, '?new=true')
  assert.deepEqual([set.body.m, set.body.attr, set.body.level], [['frank', 'gina'], { color: 'red' }, 2])
  const cleared = await put({ level: { __op: 'Delete' } }, '?fetchWhenSave=true')
  assert.equal(cleared.body.level, null)
  for (const [body, error] of [
    [{ mu: ['x'] }, /mu/], [{ level: { __op: 'Increment', amount: 1 } }, /Increment/], [{ c: 'zed' }, /cannot set c/],
    [{ m: { __op: 'Add', objects: 'x' } }, /m.objects/]
  ]) {
    const r = await put(body)
    assert.equal(r.status, 400, JSON.stringify(body))
    assert.match(r.body.error, error)
  }
  const members = await api('GET', `/1.2/rtm/conversations/${id}/members`)
  assert.deepEqual(members.body, { result: ['frank', 'gina'] })
  await api('POST', `/1.2/rtm/conversations/${id}/members`, { body: { client_ids: ['hana'] } })
  await api('DELETE', `/1.2/rtm/conversations/${id}/members`, { body: { client_ids: ['frank'] } })
  assert.deepEqual((await api('GET', `/1.2/rtm/conversations/${id}/members`)).body, { result: ['gina', 'hana'] })

  const q = async (query) => {
    const r = await api('GET', `${base}?${query}`)
    assert.equal(r.status, 200, JSON.stringify(r.body))
    return r.body
  }
  const where = (w) => `where=${encodeURIComponent(JSON.stringify(w))}`
  assert.deepEqual((await q(where({ name: { $in: ['class one', 'class two'] } }) + '&order=name')).results.map((c) => c.objectId), [id, two])
  assert.deepEqual((await q(where({ m: 'gina' }))).results.map((c) => c.objectId), [id])
  const counted = await q(where({ name: { $regex: '^class' } }) + '&limit=0&count=1')
  assert.deepEqual(counted, { results: [], count: 2 })
  const paged = await q(where({ name: { $regex: '^class' } }) + '&order=-name&limit=1&skip=1&count=1')
  assert.deepEqual([paged.results.map((c) => c.name), paged.count], [['class one'], 2])
  const everything = await q('count=1&limit=1000')
  assert.equal(everything.count, everything.results.length)
  const badWhere = await api('GET', `${base}?where=nope`)
  assert.deepEqual([badWhere.status, badWhere.body.code], [400, 1])

  // Scan: every conversation once, in objectId order, two at a time.
  const seen = []
  let cursor = ''
  for (let pages = 0; pages < 100; pages++) {
    const page = await api('GET', `/1.1/scan/classes/_Conversation?limit=2${cursor ? `&cursor=${cursor}` : ''}`)
    assert.equal(page.status, 200)
    seen.push(...page.body.results.map((c) => c.objectId))
    if (!page.body.cursor) break
    cursor = page.body.cursor
  }
  assert.deepEqual(seen, everything.results.map((c) => c.objectId).sort())

  const sent = await api('POST', `/1.2/rtm/conversations/${two}/messages`, { body: { from_client: 'zoe', message: 'doomed' } })
  assert.equal(sent.status, 200)
  assert.equal((await api('GET', `/1.2/rtm/clients/erin/unread-count?conv_id=${two}`)).body.count, 1)
  const gone = await api('DELETE', `${base}/${two}`)
  assert.deepEqual([gone.status, gone.body], [200, {}])
  assert.equal((await api('GET', `${base}/${two}`)).status, 404)
  assert.equal((await api('DELETE', `${base}/${two}`)).status, 404)
  assert.equal((await api('GET', `/1.2/rtm/conversations/${two}/messages`)).status, 404)
  // The newest conversation was deleted: the next one may take its row number, and
  // must inherit none of its history or cursors.
  const three = await api('POST', base, { body: { name: 'after delete', m: ['erin'] } })
  assert.equal(three.status, 201)
  assert.deepEqual((await api('GET', `/1.2/rtm/conversations/${three.body.objectId}/messages`)).body, [])
  assert.equal((await api('GET', '/1.2/rtm/clients/erin/unread-count')).body.count, 0)
  const sys = await api('POST', base, { body: { name: 'notices', sys: true } })
  assert.deepEqual([sys.status, sys.body.code], [400, 1])
})

test('kick: every session of the client gets session closed 4115, then a close with 4115', async () => {
  reset()
  let closeCode = null
  bob.cache.ws.on('close', (code) => { closeCode = code })
  const r = await api('POST', '/1.2/rtm/clients/bob/kick', { body: { reason: 'maintenance' } })
  assert.equal(r.status, 200)
  assert.deepEqual(r.body, {})
  await waitFor('bob is told and closed', () => closeCode !== null)
  assert.equal(closeCode, 4115)
  const told = (bob.cache.rawIn || []).map((t) => JSON.parse(t)).filter((f) => f.cmd === 'session' && f.op === 'closed')
  assert.deepEqual(told, [{ peerId: 'bob', cmd: 'session', op: 'closed', code: 4115, reason: 'KICKED_BY_APP' }])
  const online = await api('POST', '/1.2/rtm/clients/check-online', { body: { client_ids: ['alice', 'bob'] } })
  assert.deepEqual(online.body, { results: ['alice'] }, 'bob is offline (2.4.0 reconnects 5 s later by itself)')
  // v1.1, and its checks.
  const v11 = await api('POST', '/1.1/rtm/client/kick', { body: { client_id: 'nobody', reason: 'x' } })
  assert.deepEqual([v11.status, v11.body], [200, {}])
  const long = await api('POST', '/1.2/rtm/clients/alice/kick', { body: { reason: 'r'.repeat(21) } })
  assert.deepEqual([long.status, long.body.code], [400, 1])
  const none = await api('POST', '/1.1/rtm/client/kick', { body: {} })
  assert.deepEqual([none.status, none.body.code], [400, 1])
  const still = await api('POST', '/1.2/rtm/clients/check-online', { body: { client_ids: ['alice'] } })
  assert.deepEqual(still.body, { results: ['alice'] }, 'refused kicks kick nobody')
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
