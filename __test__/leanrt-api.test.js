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
  assert.equal(await cb((done) => alice.room('', done)), null, "'' is an id like any other")
  const one = await cb((done) => alice.room(1, done))
  assert.deepEqual([one.name, one.attr], ['', {}], 'a non-object truthy value creates a room with the defaults')
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
  const numeric = { where: { m: 5 } }
  alice.query(numeric, () => {})
  assert.deepEqual(numeric.where, { m: { $all: 5 } }, 'a non-object, non-string m is still wrapped, as 2.4.0')
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

// ---------------------------------------------------------------------------------------------
// Review against 2.4.0's source (node_modules/leancloud-realtime/src): each test below failed
// before the fix it names.
// ---------------------------------------------------------------------------------------------

const original = require('leancloud-realtime')

/** Records every frame the JS side hands to the connection (`_engine.wsSend` is public). */
function recordSends(t) {
  const sent = []
  const engine = realtime._engine
  const wsSend = engine.wsSend
  engine.wsSend = function (cache, data) {
    if (!cache.closeFlag) sent.push(JSON.parse(JSON.stringify(data)))
    return wsSend.apply(this, arguments)
  }
  t.after(() => {
    engine.wsSend = wsSend
  })
  return sent
}

test('_tool has exactly 2.4.0 keys, in its order; extend is 2.4.0 own (jQuery) extend', () => {
  assert.deepEqual(Object.keys(realtime._tool), Object.keys(original._tool))
  assert.deepEqual(Object.keys(realtime._tool), ['ajax', 'extend', 'eventCenter', 'noop', 'isJSONString', 'now', 'encodeHTML'])
  // A plain object whose prototype is another plain object is cloned by a deep extend, as
  // 2.4.0's isPlainObject says (it used to be copied by reference).
  const inner = Object.create({})
  inner.x = { y: 1 }
  for (const tool of [original._tool, realtime._tool]) {
    const src = { a: inner }
    const out = tool.extend(true, {}, src)
    assert.notEqual(out.a, inner)
    assert.deepEqual(out, { a: { x: { y: 1 } } })
    assert.deepEqual(tool.extend({ a: 1 }, undefined, null, { b: undefined, c: 2 }), { a: 1, c: 2 })
    assert.deepEqual(tool.extend(true, { a: [1, 2] }, { a: [3] }), { a: [3, 2] })
  }
  // encodeHTML recurses through the tool object, so a patch applies to nested values too.
  const encode = realtime._tool.encodeHTML
  const seen = []
  realtime._tool.encodeHTML = function (x) {
    seen.push(x)
    return encode(x)
  }
  try {
    assert.deepEqual(realtime._tool.encodeHTML({ a: ['<"\'>'] }), { a: ['&lt;"\'&gt;'] })
  } finally {
    realtime._tool.encodeHTML = encode
  }
  assert.equal(seen.length, 3)
})

test('_tool.ajax: 2.4.0 request and reply handling, without uncaught throws', T, async (t) => {
  const http = require('node:http')
  const requests = []
  const server = http.createServer((req, res) => {
    let body = ''
    req.on('data', (d) => (body += d))
    req.on('end', () => {
      requests.push({ method: req.method, url: req.url, type: req.headers['content-type'], body })
      if (req.url === '/moved') {
        res.writeHead(302, { location: '/ok' })
        return res.end()
      }
      if (req.url === '/bad') {
        res.writeHead(400)
        return res.end('{"code":1,"error":"bad"}')
      }
      if (req.url === '/html') {
        res.writeHead(200)
        return res.end('<html>')
      }
      res.writeHead(200, { 'content-type': 'application/json' })
      res.end(JSON.stringify({ got: body || null }))
    })
  })
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.after(() => server.close())
  const base = `http://127.0.0.1:${server.address().port}`
  const ajax = (opts) => cb((done) => realtime._tool.ajax(opts, (err, data) => done({ err, data })))

  assert.deepEqual(await ajax(base + '/ok'), { err: null, data: { got: null } })
  assert.deepEqual(requests[0], { method: 'GET', url: '/ok', type: undefined, body: '' })
  // `method` defaults to 'get' (lowercase), so, as with xmlhttprequest, data goes in the body.
  assert.deepEqual(await ajax({ url: base + '/ok', data: { a: 1 } }), { err: null, data: { got: '{"a":1}' } })
  assert.deepEqual(await ajax({ url: base + '/ok', method: 'post', data: [1, 'x'] }), { err: null, data: { got: '[1,"x"]' } })
  assert.deepEqual(requests.slice(1).map((r) => [r.method, r.type]), [
    ['GET', 'text/plain;charset=UTF-8'],
    ['POST', 'text/plain;charset=UTF-8'],
  ])
  assert.deepEqual(await ajax(base + '/moved'), { err: null, data: { got: null } }, 'redirects are followed')
  assert.deepEqual(await ajax(base + '/bad'), { err: { code: 1, error: 'bad' }, data: undefined })
  const html = await ajax(base + '/html')
  assert.ok(html.err instanceof SyntaxError)
  assert.equal(html.err.status, 200)
  assert.equal(html.err.responseText, '<html>')
  const down = await ajax('http://127.0.0.1:1/')
  assert.equal(down.err.message, 'Network error.')
  assert.ok(down.err.cause)
})

test('event center: re-entrant emits behave as 2.4.0 (same trace as the original)', () => {
  // A listener that removes itself and re-emits its own event: this used to throw
  // "Cannot read properties of null (reading 'filter')".
  const ec = realtime._tool.eventCenter()
  const calls = []
  const f = function (d) {
    calls.push(['f', d, this === ec])
    ec.off('a', f)
    if (d === 1) ec.emit('a', 2)
  }
  ec.on('a', f)
  assert.equal(ec.emit('a', 1), ec)
  assert.deepEqual(calls, [['f', 1, true]])
  assert.throws(() => ec.on(['a'], f), TypeError, 'a non-string name is a TypeError, as 2.4.0')

  // Random on/once/off/emit programs, listeners that emit, off, add and throw: the calls,
  // `this` and the throws must be those of 2.4.0's own event center.
  function trace(tool, seed) {
    let s = seed
    const rnd = (n) => {
      s = (s * 1103515245 + 12345) & 0x7fffffff
      return s % n
    }
    const ec = tool._tool.eventCenter()
    const log = []
    const names = ['a', 'b', 'a b', ' a', '']
    const fns = []
    for (let k = 0; k < 6; k++) {
      fns.push(function (d) {
        log.push(k + ':' + d + ':' + (this === ec))
        const r = rnd(10)
        if (d > 3) return
        if (r === 0) ec.emit(['a', 'b'][rnd(2)], d + 1)
        else if (r === 1) ec.off(['a', 'b'][rnd(2)], fns[rnd(6)])
        else if (r === 2) ec.on(['a', 'b'][rnd(2)], fns[rnd(6)])
        else if (r === 3) ec.once(['a', 'b'][rnd(2)], fns[rnd(6)])
        else if (r === 4 && rnd(3) === 0) throw new Error('boom' + k)
      })
    }
    for (let step = 0; step < 30; step++) {
      const op = rnd(4)
      try {
        if (op === 0) ec.on(names[rnd(5)], fns[rnd(6)])
        else if (op === 1) ec.once(names[rnd(5)], fns[rnd(6)])
        else if (op === 2) ec.off(names[rnd(5)], fns[rnd(6)])
        else log.push('r=' + (ec.emit(names[rnd(5)], 0) === ec))
      } catch (e) {
        log.push('T:' + e.message)
      }
    }
    return log.join(',')
  }
  for (let seed = 1; seed < 3000; seed++) assert.equal(trace(realtime, seed), trace(original, seed), `seed ${seed}`)
})

test('argument-count rules and option mutation, frame by frame', T, async (t) => {
  const id = setup()
  const sent = recordSends(t)
  const alice = await c.connect(id('alice'))
  const room = await cb((done) => alice.room({ name: 'A', members: [id('bob')] }, done))
  sent.length = 0
  const i0 = alice.cache.serialId

  // query: 1 argument is the callback; 3+ arguments ignore the options and take the 2nd as callback.
  const ignored = { where: { m: 'nobody' }, limit: 3 }
  const viaThird = await cb((done) => alice.query(ignored, done, 'extra'))
  assert.equal(viaThird.length, 1)
  assert.deepEqual(ignored, { where: { m: 'nobody' }, limit: 3 }, '3-argument options are not even mutated')
  const q = { limit: 0, skip: 0, sort: '', compact: 1, withLastMessages: 1 }
  await cb((done) => alice.query(q, done))
  assert.deepEqual(q, { limit: 0, skip: 0, sort: '', compact: 1, withLastMessages: 1, serialId: i0 + 2, flag: 3, where: { m: id('alice') } })
  // send: 1 argument has no callback; 4 arguments ignore options and callback alike.
  const so = { receipt: true }
  let fourth = false
  room.send('one')
  room.send('four', so, () => (fourth = true), 'x')
  const so3 = { receipt: 'yes', transient: 0 }
  await cb((done) => room.send({ k: '<' }, so3, done))
  assert.deepEqual(so, { receipt: true })
  assert.deepEqual(so3, { receipt: 1, transient: 0, cid: room.id, serialId: i0 + 5, data: '{"k":"<"}' })
  // log: options get cid and serialId; 0 limit is 20; t and mid are left out when falsy.
  const lo = { limit: 0, t: 0, mid: '' }
  await cb((done) => room.log(lo, done))
  assert.deepEqual(lo, { limit: 0, t: 0, mid: '', cid: room.id, serialId: i0 + 6 })
  await cb((done) => room.list(done))
  await sleep(100)
  assert.equal(fourth, false, 'a fourth argument: the callback is not used')
  const strip = (f) => {
    delete f.peerId
    return f
  }
  assert.deepEqual(sent.map(strip), [
    { cmd: 'conv', op: 'query', where: { m: id('alice') }, sort: '-lm', limit: 10, skip: 0, flag: 0, i: i0 + 1 },
    { cmd: 'conv', op: 'query', where: { m: id('alice') }, sort: '-lm', limit: 10, skip: 0, flag: 3, i: i0 + 2 },
    { cmd: 'direct', cid: room.id, msg: 'one', i: i0 + 3, r: false, transient: false },
    { cmd: 'direct', cid: room.id, msg: 'four', i: i0 + 4, r: false, transient: false },
    { cmd: 'direct', cid: room.id, msg: '{"k":"<"}', i: i0 + 5, r: 1, transient: false },
    { cmd: 'logs', cid: room.id, limit: 20, i: i0 + 6 },
    // list(): no flag at all.
    { cmd: 'conv', op: 'query', where: { objectId: room.id }, sort: '-lm', limit: 10, skip: 0, i: i0 + 7 },
  ])
})

test('remove() without members and without auth sends, as 2.4.0 (it used to throw a TypeError)', T, async (t) => {
  const id = setup()
  const sent = recordSends(t)
  const alice = await c.connect(id('alice'))
  const room = await cb((done) => alice.room({ name: 'rm' }, done))
  assert.equal(room.remove(), room)
  await sleep(100)
  const frame = sent.find((f) => f.op === 'remove')
  assert.deepEqual(frame, { cmd: 'conv', op: 'remove', cid: room.id, i: alice.cache.serialId })
})

test('close() then open() in one tick reconnects; close() uses no serial id', T, async () => {
  const id = setup()
  const rt = await c.connect(id('serial'))
  const seen = record(rt, ['close', 'open'])
  const before = rt.cache.serialId
  rt.close()
  assert.equal(rt.cache.openFlag, true, 'close() leaves openFlag set, so later calls do not throw')
  assert.equal(rt.cache.closeFlag, true)
  // This open() used to be swallowed by the closing connection: no callback, ever.
  const frame = await cb((done) => rt.open(done))
  assert.equal(frame.i, before + 1, 'the next session open is i+1, as 2.4.0 (which sends no session close)')
  await until(() => seen.length === 2, 'close and open events')
  assert.deepEqual(seen.map((e) => e[0]), ['close', 'open'], 'the closed socket still emits close')
  assert.equal(seen[0][1].code, 1000)
  assert.deepEqual(await cb((done) => rt.ping(id('serial'), done)), [id('serial')])
})

test('reply listeners: callback first, then removal (as 2.4.0)', T, async () => {
  const id = setup()
  const alice = await c.connect(id('alice'))
  const calls = []
  alice.ping('nobody', (online) => {
    calls.push(online)
    if (calls.length === 1) throw new Error('first call throws')
  })
  const i = alice.cache.serialId
  // A callback that throws keeps its listener (2.4.0 removes it only after the callback
  // returned), so the same reply reaches it again.
  assert.throws(() => alice.emit('session-query-result', { i, onlineSessionPeerIds: ['x'] }), /first call throws/)
  alice.emit('session-query-result', { i, onlineSessionPeerIds: ['y'] })
  await sleep(200)
  assert.deepEqual(calls, [['x'], ['y']], 'and the real reply, later, finds no listener')
})

test('raw frame listeners: before open they see the unconverted frame, after open the converted one', T, async () => {
  const id = setup()
  const alice = await c.connect(id('alice'))
  const seen = []
  let bob
  await cb((done) => {
    bob = realtime({ appId: APP, clientId: id('bob'), router: srv.routerUrl }, done)
    bob.on('direct', function (f) {
      seen.push(['direct early', f.msg, this === bob.cache.ec])
    })
    c.track(bob)
  })
  bob.on('message', (f) => seen.push(['message', f.msg]))
  bob.on('direct', (f) => seen.push(['direct late', f.msg]))
  const room = await cb((done) => alice.room({ members: [id('bob')] }, done))
  await cb((done) => room.send({ text: 'hi' }, { type: 'text' }, done))
  await until(() => seen.length === 3, 'three listeners')
  const converted = { text: 'hi', attr: undefined, type: 'text' }
  assert.deepEqual(seen, [
    ['direct early', '{"_lctype":-1,"_lctext":"hi"}', true],
    ['message', converted],
    ['direct late', converted],
  ])
})

test('auth denials thrown synchronously leave no reply listener; self-leave is never signed', T, async () => {
  const id = setup()
  const alice = await c.connect(id('alice'))
  const room = await cb((done) => alice.room({ name: 'deny' }, done))
  const asked = []
  alice.cache.authFun = (params, reply) => {
    asked.push(params)
    reply()
  }
  let created = false
  assert.throws(() => alice.room({ name: 'x' }, () => (created = true)), {
    message: 'Conversation creation denied by application: undefined',
  })
  alice.emit('conv-started', { cmd: 'conv', op: 'started', i: alice.cache.serialId, cid: 'fake' })
  assert.equal(created, false, 'no listener was left for the denied creation')
  assert.equal(alice.cache.conv.fake, undefined)
  let added = false
  assert.throws(() => room.add(id('x'), () => (added = true)), {
    message: 'Adding members to conversation denied by application: undefined',
  })
  alice.emit('conv-added', { cmd: 'conv', op: 'added', i: alice.cache.serialId })
  assert.equal(added, false)
  assert.throws(() => room.remove([id('alice'), id('alice')]), {
    message: 'Removing members from conversation denied by application: undefined',
  })
  assert.throws(() => room.join(), { message: 'Adding members to conversation denied by application: undefined' })
  assert.equal(asked.length, 4)
  assert.deepEqual(asked[2], { clientId: id('alice'), members: [id('alice'), id('alice')], convId: room.id, action: 'kick' })
  // Exactly [self] (a string or a one-element array): no auth call.
  await cb((done) => room.leave(done))
  await cb((done) => room.remove([id('alice')], done))
  assert.equal(asked.length, 4)
})

test('many sends in flight: each callback fires once, with the ack of its own message', T, async () => {
  const id = setup()
  const rt = await c.connect(id('burst'))
  const room = await cb((done) => rt.room({ name: 'burst' }, done))
  const N = 300
  const acks = new Map()
  const raw = []
  rt.on('ack', (frame) => raw.push(frame.i))
  await cb((done) => {
    for (let k = 0; k < N; k++) {
      room.send(`m${k}`, {}, (ack) => {
        assert.ok(!acks.has(k), `callback ${k} fired twice`)
        acks.set(k, ack)
        if (acks.size === N) done()
      })
    }
  }, 10000)
  const logs = await cb((done) => room.log({ limit: N }, done))
  assert.deepEqual(logs.map((l) => l.msg), [...Array(N).keys()].map((k) => `m${k}`))
  assert.deepEqual(logs.map((l) => l.msgId), [...Array(N).keys()].map((k) => acks.get(k).uid))
  assert.equal(raw.length, N, 'a raw ack listener sees every ack')
})
