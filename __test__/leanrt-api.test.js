'use strict'
// leanrt's 2.4.0 API against a real leanrt-server: payloads, orders and counts
// (protocol.md §7–§8), including the documented fixes of §9.
const { test, before, after, afterEach } = require('node:test')
const assert = require('node:assert/strict')
const crypto = require('node:crypto')

const realtime = require('..')
const { startServer, stopAll } = require('./helpers/server')
const { cb, nextEvent, sleep, until, clients } = require('./leanrt-common')

const APP = 'leanrtApi'
const SIGNED = 'leanrtSigned'
const KEY = 'masterkey'
const T = { timeout: 20000 }
let srv
let c
let n = 0

before(async () => {
  srv = await startServer({ app: [APP, `${SIGNED}:${KEY}`] })
})
after(() => stopAll())
afterEach(() => c && c.closeAll())

/** Fresh clients and unique ids per test. */
function setup() {
  c = clients(realtime, srv.routerUrl, APP)
  n++
  return (name) => `t${n}${process.pid}_${name}`
}

function record(rt, names) {
  const seen = []
  for (const name of names) rt.on(name, (data) => seen.push([name, data]))
  return seen
}

test('module statics', () => {
  assert.equal(realtime.realtime, realtime)
  assert.equal(realtime.version, require('../package.json').version)
  for (const k of ['encodeHTML', 'eventCenter', 'extend', 'noop', 'isJSONString', 'now']) {
    assert.equal(typeof realtime._tool[k], 'function', k)
  }
  assert.equal(realtime._tool.encodeHTML('<a&b>'), '&lt;a&amp;b&gt;')
  assert.deepEqual(realtime._tool.encodeHTML({ x: ['<'], n: 1 }), { x: ['&lt;'], n: 1 })
  const cache = { serialId: 999998, options: {} }
  assert.equal(realtime._engine.getSerialId(cache), 999999)
  assert.equal(realtime._engine.getSerialId(cache), 2015)
  assert.deepEqual(realtime._engine.getMediaMsg(cache, '{hi}'), '{hi}', 'fix §9.7')
  assert.deepEqual(realtime._engine.getMediaMsg({ options: { encodeHTML: true } }, '<b>'), '&lt;b&gt;')
  const file = JSON.parse(
    realtime._engine.setMediaMsg(cache, 'file', { url: 'http://f', objectId: 'o1', metaData: { name: 'a.txt', size: 3 } }),
  )
  assert.deepEqual(file, { _lctype: -6, _lcfile: { url: 'http://f', objId: 'o1', name: 'a.txt', size: 3 } }, 'fix §9.8')
  assert.equal(realtime._engine.setMediaMsg(cache, 'unknown', { metaData: {} }), undefined)
})

test('event center semantics (§8.6)', () => {
  const ec = realtime._tool.eventCenter()
  const calls = []
  const f = (d) => calls.push('f' + d)
  const g = (d) => calls.push('g' + d)
  ec.on('a  b', f).on('a', f).once('a', g)
  ec.emit('a', 1).off('a', f).emit('a', 2).emit('b', 3).off('a b', f).emit('b', 4)
  assert.deepEqual(calls, ['f1', 'f1', 'g1', 'f2', 'f3', 'f4'])
  assert.throws(() => ec.on('', f), { message: 'No event name.' })
  assert.throws(() => ec.on('a'), { message: 'No callback function.' })
  assert.throws(() => ec.emit(''), { message: 'No emit event name.' })
})

test('param-check throws', T, async () => {
  const id = setup()
  assert.throws(() => realtime(), { message: 'realtime need a argument at least.' })
  assert.throws(() => realtime({}), { message: 'Options must have appId.' })
  assert.throws(() => realtime({ appId: APP, region: 'eu' }), { message: 'There is no this region.' })
  let early
  const opened = cb((done) => {
    early = realtime({ appId: APP, clientId: id('a'), router: srv.routerUrl }, done)
  })
  for (const call of [() => early.close(), () => early.room('x'), () => early.query(() => {}), () => early.ping('x', () => {})]) {
    assert.throws(call, { message: 'Must call after open() has successed.' })
  }
  await opened
  early.close()
  const rt = await c.connect(id('b'))
  assert.throws(() => rt.ping('x'), { message: 'Ping must have callback.' })
  assert.throws(() => rt.room(), { message: 'Createing room must have a callback function.' })
  const room = await cb((done) => rt.room({ name: 'R' }, done))
  assert.throws(() => room.send({ text: 'x' }, { type: 'image' }, () => {}), {
    message: 'Media Data must have metaData attribute.',
  })
  assert.equal(rt.on('x', () => {}), rt, 'chainable')
})

test('open: payload and listener order', T, async () => {
  const id = setup()
  const order = []
  const frame = await cb((done) => {
    const rt = realtime({ appId: APP, clientId: id('alice'), router: srv.routerUrl }, (f) => {
      order.push('callback')
      done(f)
    })
    rt.on('open', () => order.push('on open'))
    rt.on('session-opened', () => order.push('session-opened'))
    c.track(rt)
  })
  assert.deepEqual(order, ['session-opened', 'on open', 'callback'])
  assert.equal(frame.cmd, 'session')
  assert.equal(frame.op, 'opened')
  assert.equal(frame.peerId, id('alice'))
  assert.equal(frame.i, 2016)
})

test('close() sends nothing more; open() again reconnects', T, async () => {
  const id = setup()
  const rt = await c.connect(id('again'))
  const opens = []
  rt.on('open', (f) => opens.push(f))
  const closed = nextEvent(rt, 'close')
  assert.equal(rt.close(), rt)
  assert.deepEqual(await closed, { type: 'close', code: 1000, reason: '', wasClean: true })
  let answered = false
  rt.ping(id('again'), () => (answered = true))
  rt.close()
  await sleep(200)
  assert.equal(answered, false, 'after close() requests are not sent')
  const frame = await cb((done) => rt.open(done))
  assert.equal(frame.op, 'opened')
  assert.equal(opens.length, 1)
  assert.deepEqual(await cb((done) => rt.ping(id('again'), done)), [id('again')])
  const reconnected = nextEvent(rt, 'open')
  rt.open()
  await reconnected
  assert.deepEqual(await cb((done) => rt.ping(id('again'), done)), [id('again')])
})

test('rooms: create, cached fetch by id, unknown id, room(callback)', T, async () => {
  const id = setup()
  const alice = await c.connect(id('alice'))
  const seen = record(alice, ['create'])
  const room = await cb((done) => alice.room({ name: 'R', members: [id('bob')], attr: { k: 1 } }, done))
  assert.match(room.id, /^[0-9a-f]{24}$/)
  assert.equal(room.name, 'R')
  assert.deepEqual(room.attr, { k: 1 })
  assert.equal(seen.length, 1)
  assert.equal(seen[0][1].cid, room.id)
  const fetched = await cb((done) => alice.room(room.id, done))
  assert.equal(fetched, room, 'the cached instance')
  assert.equal(await cb((done) => alice.conv('000000000000000000000000', done)), null)
  const quick = await cb((done) => alice.room(done))
  assert.match(quick.id, /^[0-9a-f]{24}$/, 'fix §9.5')
  assert.equal(quick.name, '')
})

test('membership events and their order (§6.4)', T, async () => {
  const id = setup()
  const names = ['invited', 'kicked', 'membersjoined', 'membersleft', 'join', 'left']
  const alice = await c.connect(id('alice'))
  const bob = await c.connect(id('bob'))
  const carol = await c.connect(id('carol'))
  const a = record(alice, names)
  const b = record(bob, names)
  const k = record(carol, names)
  const room = await cb((done) => alice.room({ name: 'M', members: [id('bob')] }, done))
  await until(() => b.length === 2, 'bob invited')
  assert.deepEqual(b.map((e) => e[0]), ['join', 'invited'])
  assert.equal(b[1][1].initBy, id('alice'))

  const added = await cb((done) => room.add(id('carol'), done))
  assert.equal(added.op, 'added')
  await until(() => k.length === 4 && a.length === 2 && b.length === 4, 'add notifications')
  assert.deepEqual(k.map((e) => e[0]), ['join', 'invited', 'join', 'membersjoined'])
  assert.deepEqual(a.map((e) => e[0]), ['join', 'membersjoined'])
  assert.deepEqual(a[1][1].m, [id('carol')])

  const removed = await cb((done) => room.remove([id('carol')], done))
  assert.equal(removed.op, 'removed')
  await until(() => k.length === 6 && a.length === 4, 'remove notifications')
  assert.deepEqual(k.slice(4).map((e) => e[0]), ['left', 'kicked'])
  assert.deepEqual(a.slice(2).map((e) => e[0]), ['left', 'membersleft'])

  const bobRoom = await cb((done) => bob.room(room.id, done))
  await cb((done) => bobRoom.leave(done))
  await until(() => a.length === 6, 'bob left')
  assert.deepEqual(a.slice(4).map((e) => [e[0], e[1].m]), [['left', [id('bob')]], ['membersleft', [id('bob')]]])
  await cb((done) => bobRoom.join(done))
  await until(() => b.filter((e) => e[0] === 'invited').length === 2, 'bob rejoined')
  assert.deepEqual(await cb((done) => room.list(done)), [id('alice'), id('bob')])
})

test('send, receive, receipts, transient', T, async () => {
  const id = setup()
  const alice = await c.connect(id('alice'))
  const bob = await c.connect(id('bob'))
  const receipts = record(alice, ['receipt'])
  const room = await cb((done) => alice.room({ members: [id('bob')] }, done))
  const got = []
  const bobRoom = await cb((done) => bob.room(room.id, done))
  bobRoom.receive((m) => got.push(m))
  const ack = await cb((done) => room.send('hello', { receipt: true }, done))
  assert.equal(typeof ack.uid, 'string')
  assert.equal(typeof ack.t, 'number')
  await until(() => got.length === 1 && receipts.length === 1, 'message and receipt')
  assert.equal(got[0].msg, 'hello')
  assert.equal(got[0].fromPeerId, id('alice'))
  assert.equal(got[0].id, ack.uid)
  assert.equal(receipts[0][1].id, ack.uid)
  assert.equal(receipts[0][1].cid, room.id)

  await cb((done) => room.send({ k: 1 }, done))
  let transientAcked = false
  room.send('fleeting', { transient: true }, () => (transientAcked = true))
  await until(() => got.length === 3, 'two more messages')
  assert.deepEqual(got[1].msg, { k: 1 })
  assert.equal(got[2].msg, 'fleeting')
  assert.equal(got[2].transient, true)
  await sleep(200)
  assert.equal(transientAcked, false, 'transient sends are never acked')
  assert.equal(receipts.length, 1, 'receipts only when asked for')
})

test('media round trips, unparsable text and encodeHTML', T, async () => {
  const id = setup()
  const alice = await c.connect(id('alice'))
  const bob = await c.connect(id('bob'), { encodeHTML: true })
  const room = await cb((done) => alice.room({ members: [id('bob')] }, done))
  const got = []
  bob.on('message', (m) => got.push(m.msg))
  const image = { text: '<i>x</i>', attr: { q: '<a>' }, url: 'http://u/i.png', objectId: 'f1', metaData: { name: 'i', format: 'png', height: 1, width: 2, size: 3 } }
  await cb((done) => room.send(image, { type: 'image' }, done))
  await cb((done) => room.send({ text: 'here', metaData: { longitude: 1.5, latitude: 2.5 } }, { type: 'location' }, done))
  await cb((done) => room.send({ url: 'http://f', objectId: 'o', metaData: { name: 'a.txt', size: 3 } }, { type: 'file' }, done))
  await cb((done) => room.send({ _lctype: 7, x: 1 }, done))
  await cb((done) => room.send('{hi}', done))
  await cb((done) => room.send('<b>', done))
  await until(() => got.length === 6, 'six messages')
  assert.deepEqual(got[0], {
    text: '&lt;i&gt;x&lt;/i&gt;',
    attr: { q: '<a>' },
    url: 'http://u/i.png',
    metaData: { name: 'i', format: 'png', height: 1, width: 2, size: 3 },
    type: 'image',
  })
  assert.deepEqual(got[1], { text: 'here', attr: undefined, type: 'location', location: { longitude: 1.5, latitude: 2.5 } })
  assert.deepEqual(got[2], { text: undefined, attr: undefined, url: 'http://f', type: 'file' }, 'fix §9.8')
  assert.deepEqual(got[3], { _lctype: 7, x: 1 })
  assert.equal(got[4], '{hi}', 'fix §9.7')
  assert.equal(got[5], '&lt;b&gt;')
})

test('log paging', T, async () => {
  const id = setup()
  const alice = await c.connect(id('alice'))
  const room = await cb((done) => alice.room({ name: 'L' }, done))
  for (let i = 0; i < 5; i++) await cb((done) => room.send('m' + i, done))
  const last = await cb((done) => room.log({ limit: 2 }, done))
  assert.deepEqual(last.map((l) => l.msg), ['m3', 'm4'])
  assert.equal(last[0].fromPeerId, id('alice'))
  assert.equal(last[0].msg, last[0].data)
  const before = await cb((done) => room.log({ t: last[0].timestamp, mid: last[0].msgId, limit: 2 }, done))
  assert.deepEqual(before.map((l) => l.msg), ['m1', 'm2'])
  const all = await cb((done) => room.log(done))
  assert.equal(all.length, 5)
  const zero = await cb((done) => room.log({ limit: 0 }, done))
  assert.equal(zero.length, 5, 'limit 0 means 20')
  const other = await cb((done) => alice.room({ name: 'O' }, done))
  const viaCid = await cb((done) => other.log({ cid: room.id, limit: 1 }, done))
  assert.deepEqual(viaCid.map((l) => l.msg), ['m4'], 'cid override')
})

test('query flags, where rewriting, ping, count, update', T, async () => {
  const id = setup()
  const alice = await c.connect(id('alice'))
  await c.connect(id('bob'))
  const room = await cb((done) => alice.room({ name: 'Q', members: [id('bob')], attr: { k: 1 } }, done))
  await cb((done) => room.send('last', done))
  const plain = await cb((done) => alice.query(done))
  assert.equal(plain.length, 1)
  assert.deepEqual(plain[0].m, [id('alice'), id('bob')])
  const compact = await cb((done) => alice.query({ compact: true }, done))
  assert.equal(compact[0].m, undefined)
  const withLast = await cb((done) => alice.query({ withLastMessages: true }, done))
  assert.equal(withLast[0].msg, 'last')
  const options = { where: { m: [id('alice'), id('bob')] } }
  assert.equal((await cb((done) => alice.query(options, done))).length, 1)
  assert.deepEqual(options.where.m, { $all: [id('alice'), id('bob')] }, 'options are mutated as in 2.4.0')
  const asObject = await cb((done) => alice.query({ where: { m: { $in: [id('bob')] } } }, done))
  assert.equal(asObject.length, 1, 'fix §9.9: objects are not wrapped in $all')
  const byIds = await cb((done) => alice.query({ where: { roomIds: [room.id] } }, done))
  assert.equal(byIds[0].objectId, room.id)

  assert.deepEqual(await cb((done) => alice.ping([id('bob'), id('zed')], done)), [id('bob')])
  assert.deepEqual(await cb((done) => alice.ping(id('alice'), done)), [id('alice')])
  assert.equal(await cb((done) => room.count(done)), 2)
  const updated = await cb((done) => room.update({ name: 'Q2' }, done))
  assert.equal(updated.op, 'updated')
  assert.equal(room.name, 'Q', 'update does not touch the local name')
  assert.equal((await cb((done) => alice.query(done)))[0].name, 'Q2')
})

test('custom events, raw cmd-op events and chaining', T, async () => {
  const id = setup()
  const alice = await c.connect(id('alice'))
  const seen = []
  alice.on('mine theirs', (d) => seen.push(['on', d])).once('mine', (d) => seen.push(['once', d]))
  alice.emit('mine', 1).emit('mine', 2).emit('theirs', 3)
  assert.deepEqual(seen, [['on', 1], ['once', 1], ['on', 2], ['on', 3]])
  const raw = await cb((done) => {
    alice.once('conv-started', done)
    alice.room({ name: 'raw' }, () => {})
  })
  assert.equal(raw.cmd, 'conv')
  assert.equal(raw.op, 'started')
})

test('anonymous clients adopt the server-assigned id (fix §9.10)', T, async () => {
  setup()
  const rt = await c.connect(undefined)
  assert.equal(rt.clientId, undefined)
  const assigned = rt.cache.options.peerId
  assert.equal(typeof assigned, 'string')
  const room = await cb((done) => rt.room({ name: 'anon' }, done))
  assert.deepEqual(await cb((done) => room.list(done)), [assigned])
})

function signer(params, done) {
  const t = Math.floor(Date.now() / 1000)
  const nonce = crypto.randomBytes(6).toString('hex')
  const sorted = (params.members || []).slice().sort().join(':')
  let text
  if (params.action) text = [SIGNED, params.clientId, params.convId, sorted, t, nonce, params.action].join(':')
  else if (params.members) text = [SIGNED, params.clientId, sorted, t, nonce].join(':')
  else text = [SIGNED, params.clientId, '', t, nonce].join(':')
  done({ signature: crypto.createHmac('sha1', KEY).update(text).digest('hex'), nonce, timestamp: t })
}

test('signatures: when auth is called and what it is given', T, async () => {
  const id = setup()
  const asked = []
  const auth = (params, done) => {
    asked.push(params)
    signer(params, done)
  }
  const alice = await c.connect(id('alice'), { appId: SIGNED, auth })
  const room = await cb((done) => alice.room({ members: [id('bob')] }, done))
  await cb((done) => room.add(id('carol'), done))
  await cb((done) => room.remove(id('carol'), done))
  await cb((done) => room.leave(done))
  assert.deepEqual(asked, [
    { clientId: id('alice') },
    { clientId: id('alice'), members: [id('bob')] },
    { clientId: id('alice'), members: [id('carol')], convId: room.id, action: 'invite' },
    { clientId: id('alice'), members: [id('carol')], convId: room.id, action: 'kick' },
  ])
  let denial
  await cb((done) => {
    alice.cache.authFun = (params, reply) => {
      try {
        reply(null)
      } catch (err) {
        denial = err
      }
      done()
    }
    alice.room({ members: ['x'] }, () => {})
  })
  assert.equal(denial.message, 'Conversation creation denied by application: null')
})
