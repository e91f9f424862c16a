'use strict'
// Differential scenarios: each is written once as `async (rt, ctx) => { ... }`, where `rt` is a
// `realtime(options, cb)` factory (the original 2.4.0 pointed at our router, or leanrt with its
// `router` option) and `ctx` records a per-client trace of callbacks and events (trace.js).
// The differential test runs each scenario against both and compares the normalized traces.
//
// Every scenario also asserts the counts it waits for (ctx.waitFor throws on timeout), so a
// scenario fails on its own when the server or a client does not deliver.
const { Trace, normalize } = require('./trace')

// Events recorded for every client (protocol.md §8.5). Raw cmd-op names are not recorded by
// default; scenarios record the ones they care about.
const EVENTS = ['open', 'close', 'reuse', 'create', 'invited', 'kicked', 'membersjoined',
  'membersleft', 'join', 'left', 'message', 'receipt', 'error']

let runCounter = 0
function newPrefix () {
  runCounter++
  return `r${Date.now().toString(36)}${process.pid.toString(36)}${runCounter}_`
}

function sleep (ms) {
  return new Promise((resolve) => setTimeout(resolve, ms))
}

function roomInfo (room) {
  if (!room || typeof room !== 'object') return room === undefined ? '<undefined>' : room
  return { __room: true, id: room.id, name: room.name, attr: room.attr }
}

function makeCtx (rt, opts) {
  const trace = new Trace()
  const uncaught = opts.uncaught || []
  const uncaughtAtStart = uncaught.length
  const timeout = opts.stepTimeout || 4000
  const ctx = {
    appId: opts.appId,
    prefix: opts.prefix,
    // Restarts the server (graceful stop, same db and port) when the runner provides it.
    restartServer: opts.restartServer,
    // Waits, untraced, until the n newest messages of a conversation have their ackAt stored.
    waitAcked: opts.waitAcked || (() => Promise.resolve()),
    trace,
    recording: true,
    clients: [],
    timeout,
    id: (name) => opts.prefix + name,
    rec (name, kind, data) {
      if (ctx.recording) trace.rec(name, kind, data)
    },
    count: (name, kind) => trace.count(name, kind),
    sleep,
    settle: (ms = 200) => sleep(ms),
    roomInfo,
    checkUncaught () {
      if (uncaught.length > uncaughtAtStart) {
        const e = uncaught[uncaught.length - 1]
        throw new Error('uncaught exception during scenario: ' + ((e && e.stack) || String(e)))
      }
    },
    async waitFor (pred, label, ms = timeout) {
      const deadline = Date.now() + ms
      for (;;) {
        ctx.checkUncaught()
        if (pred()) return
        if (Date.now() > deadline) {
          throw new Error(`timed out after ${ms} ms waiting for: ${label}\ntrace so far: ` +
            JSON.stringify(normalize(trace, { prefix: opts.prefix }), null, 1).slice(0, 6000))
        }
        await sleep(5)
      }
    },
    // Waits until `name` has recorded at least `n` entries of `kind`.
    waitCount (name, kind, n, ms) {
      return ctx.waitFor(() => trace.count(name, kind) >= n, `${name}: ${n} x ${kind} (have ${trace.count(name, kind)})`, ms)
    },
    // Attaches the standard event recorders to a client.
    attach (name, client) {
      for (const ev of EVENTS) {
        client.on(ev, (data) => {
          ctx.rec(name, ev, ev === 'close' ? { code: data && data.code } : data)
        })
      }
    },
    // Creates a client and resolves once its constructor callback fired (records 'open' from
    // the event and 'open-cb' from the callback). `before(client)` runs synchronously right
    // after construction, i.e. before the session is open.
    open (name, extra = {}, before) {
      return new Promise((resolve, reject) => {
        const options = Object.assign({ appId: ctx.appId, clientId: ctx.id(name) }, extra)
        let client = null
        const timer = setTimeout(() => reject(new Error(`${name}: open() did not call back within ${timeout} ms`)), timeout)
        client = rt(options, (frame) => {
          clearTimeout(timer)
          ctx.rec(name, 'open-cb', frame)
          setImmediate(() => resolve(client))
        })
        ctx.clients.push(client)
        ctx.attach(name, client)
        if (before) {
          try {
            before(client)
          } catch (e) {
            clearTimeout(timer)
            reject(e)
          }
        }
      })
    },
    // Runs `start(cb)` and resolves with the callback's first argument, recording it as `kind`.
    // `map` transforms what is recorded (not what is resolved).
    call (name, kind, start, { map, ms = timeout } = {}) {
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`${name}: callback "${kind}" not called within ${ms} ms`)), ms)
        let calls = 0
        try {
          start(function (arg) {
            calls++
            if (calls > 1) {
              ctx.rec(name, kind + ' (called again)', map ? map(arg) : arg)
              return
            }
            clearTimeout(timer)
            ctx.rec(name, kind, map ? map(arg) : arg)
            resolve(arg)
          })
        } catch (e) {
          clearTimeout(timer)
          reject(e)
        }
      })
    },
    // Records whether `fn` throws synchronously, and what it returns otherwise.
    throws (name, kind, fn) {
      try {
        const r = fn()
        ctx.rec(name, kind, { threw: false, returned: r === undefined ? 'undefined' : typeof r })
        return r
      } catch (e) {
        ctx.rec(name, kind, { threw: (e && e.message) || String(e), type: e && e.constructor && e.constructor.name })
        return undefined
      }
    },
    create (name, client, options, kind = 'room-cb') {
      return ctx.call(name, kind, (cb) => client.room(options, cb), { map: roomInfo })
    },
    fetch (name, client, id, kind = 'room(id)-cb') {
      return ctx.call(name, kind, (cb) => client.room(id, cb), { map: roomInfo })
    }
  }
  return ctx
}

async function runScenario (fn, rt, opts) {
  const prefix = opts.prefix || newPrefix()
  const ctx = makeCtx(rt, Object.assign({}, opts, { prefix }))
  let error = null
  let timer
  try {
    await Promise.race([
      fn(rt, ctx),
      new Promise((resolve, reject) => {
        timer = setTimeout(() => reject(new Error(`scenario timed out after ${opts.timeoutMs || 20000} ms`)), opts.timeoutMs || 20000)
      })
    ])
    ctx.checkUncaught()
  } catch (e) {
    error = e
  } finally {
    clearTimeout(timer)
  }
  ctx.recording = false
  if (opts.closeClient) {
    await Promise.all(ctx.clients.map((c) => Promise.resolve().then(() => opts.closeClient(c)).catch(() => {})))
  }
  return { prefix, trace: ctx.trace, normalized: normalize(ctx.trace, { prefix }), error }
}

// ---------------------------------------------------------------------------------------------
// Scenarios
// ---------------------------------------------------------------------------------------------
const scenarios = {}

scenarios['param-check throws'] = async (rt, ctx) => {
  ctx.throws('x', 'realtime()', () => rt())
  ctx.throws('x', "realtime('str')", () => rt('str'))
  ctx.throws('x', 'realtime({})', () => rt({}))
  ctx.throws('x', 'realtime({appId:""})', () => rt({ appId: '' }))
  ctx.throws('x', 'realtime({region:"eu"})', () => rt({ appId: ctx.appId, clientId: ctx.id('x'), region: 'eu' }))
  const a = await ctx.open('a', {}, (client) => {
    ctx.throws('a', 'room(id) before open', () => client.room('5550000000000000000000aa', () => {}))
    ctx.throws('a', 'room(opts) before open', () => client.room({ name: 'r' }, () => {}))
    ctx.throws('a', 'query before open', () => client.query(() => {}))
    ctx.throws('a', 'ping before open', () => client.ping('x', () => {}))
    ctx.throws('a', 'close before open', () => client.close())
  })
  ctx.throws('a', 'ping without callback', () => a.ping(ctx.id('a')))
  ctx.throws('a', 'room()', () => a.room())
  ctx.throws('a', 'room(null)', () => a.room(null))
  ctx.throws('a', 'room(0)', () => a.room(0))
  ctx.throws('a', 'room(false)', () => a.room(false))
  const room = await ctx.create('a', a, { name: 'P', members: [] })
  ctx.throws('a', 'send image without metaData', () => room.send({ url: 'http://x/y.png' }, { type: 'image' }, () => {}))
  ctx.throws('a', 'send file without metaData', () => room.send({ text: 'f' }, { type: 'file' }, () => {}))
  ctx.throws('a', 'on("", fn)', () => a.on('', () => {}))
  ctx.throws('a', 'on("x")', () => a.on('x'))
  ctx.throws('a', 'once("", fn)', () => a.once('', () => {}))
  ctx.throws('a', 'emit("")', () => a.emit(''))
  // A round trip afterwards shows whether the failed calls consumed serial ids (`i`), as in 2.4.0.
  await ctx.call('a', 'ping-cb', (cb) => a.ping([ctx.id('a')], cb))
  await ctx.call('a', 'send-after-throws', (cb) => room.send('ok', cb))
}

scenarios['create/join/leave event orders'] = async (rt, ctx) => {
  const alice = await ctx.open('alice')
  const bob = await ctx.open('bob')
  const carol = await ctx.open('carol')
  const dave = await ctx.open('dave')

  // alice creates a room with bob: bob gets joined (join + invited); alice gets no notification.
  const room = await ctx.create('alice', alice, { name: 'R', members: [ctx.id('bob')], attr: { x: 1 } })
  await ctx.waitCount('alice', 'create', 1)
  await ctx.waitCount('bob', 'invited', 1)
  await ctx.settle(150)

  // alice adds carol.
  await ctx.call('alice', 'add-cb', (cb) => room.add(ctx.id('carol'), cb))
  await ctx.waitCount('alice', 'membersjoined', 1)
  await ctx.waitCount('bob', 'membersjoined', 1)
  await ctx.waitCount('carol', 'invited', 1)
  await ctx.waitCount('carol', 'membersjoined', 1)
  await ctx.settle(100)

  // dave joins by himself.
  const daveRoom = await ctx.fetch('dave', dave, room.id)
  await ctx.call('dave', 'join-cb', (cb) => daveRoom.join(cb))
  await ctx.waitCount('dave', 'invited', 1)
  await ctx.waitCount('dave', 'membersjoined', 1)
  await ctx.waitCount('alice', 'membersjoined', 2)
  await ctx.waitCount('bob', 'membersjoined', 2)
  await ctx.waitCount('carol', 'membersjoined', 2)
  await ctx.settle(100)

  // alice removes carol.
  await ctx.call('alice', 'remove-cb', (cb) => room.remove([ctx.id('carol')], cb))
  await ctx.waitCount('carol', 'kicked', 1)
  await ctx.waitCount('alice', 'membersleft', 1)
  await ctx.waitCount('bob', 'membersleft', 1)
  await ctx.waitCount('dave', 'membersleft', 1)
  await ctx.settle(100)

  // bob leaves.
  const bobRoom = await ctx.fetch('bob', bob, room.id)
  await ctx.call('bob', 'leave-cb', (cb) => bobRoom.leave(cb))
  await ctx.waitCount('bob', 'kicked', 1)
  await ctx.waitCount('alice', 'membersleft', 2)
  await ctx.waitCount('dave', 'membersleft', 2)
  await ctx.settle(100)

  // Adding someone already present changes nothing: only the reply.
  await ctx.call('alice', 'add-existing-cb', (cb) => room.add(ctx.id('dave'), cb))
  await ctx.call('alice', 'list-cb', (cb) => room.list(cb))
  await ctx.call('alice', 'count-cb', (cb) => room.count(cb))
  await ctx.settle(200)
  void carol
}

scenarios['send with and without receipt'] = async (rt, ctx) => {
  const alice = await ctx.open('alice')
  const bob = await ctx.open('bob')
  const room = await ctx.create('alice', alice, { name: 'S', members: [ctx.id('bob')] })
  await ctx.waitCount('bob', 'invited', 1)
  room.receipt((data) => ctx.rec('alice', 'room.receipt', data))
  room.receive((data) => ctx.rec('alice', 'room.receive', data))
  const bobRoom = await ctx.fetch('bob', bob, room.id)
  bobRoom.receive((data) => ctx.rec('bob', 'room.receive', data))

  await ctx.call('alice', 'send-cb', (cb) => room.send('hello', cb))
  await ctx.waitCount('bob', 'message', 1)
  await ctx.waitCount('bob', 'room.receive', 1)

  await ctx.call('alice', 'send-receipt-cb', (cb) => room.send({ k: 1, s: 'x' }, { receipt: true }, cb))
  await ctx.waitCount('bob', 'message', 2)
  await ctx.waitCount('alice', 'receipt', 1)
  await ctx.waitCount('alice', 'room.receipt', 1)

  await ctx.call('bob', 'send-cb', (cb) => bobRoom.send('back', cb))
  await ctx.waitCount('alice', 'message', 1)
  await ctx.waitCount('alice', 'room.receive', 1)
  await ctx.settle(250)
}

scenarios['transient messages and conversations'] = async (rt, ctx) => {
  const alice = await ctx.open('alice')
  const bob = await ctx.open('bob')
  const room = await ctx.create('alice', alice, { name: 'T', members: [ctx.id('bob')] })
  await ctx.waitCount('bob', 'invited', 1)
  // A transient message: no ack, so the callback never fires; bob gets transient:true.
  room.send('typing', { transient: true }, () => ctx.rec('alice', 'transient-send-cb (must not fire)'))
  await ctx.waitCount('bob', 'message', 1)
  await ctx.call('alice', 'send-cb', (cb) => room.send('after', cb))
  await ctx.waitCount('bob', 'message', 2)
  await ctx.waitAcked(room.id, 1)
  await ctx.call('alice', 'log-cb', (cb) => room.log(cb))

  // A transient conversation.
  const tr = await ctx.create('alice', alice, { name: 'Live', transient: true, members: [ctx.id('bob')] }, 'transient-room-cb')
  await ctx.settle(150)
  const bobTr = await ctx.fetch('bob', bob, tr.id)
  await ctx.call('bob', 'join-cb', (cb) => bobTr.join(cb))
  await ctx.call('alice', 'count-cb', (cb) => tr.count(cb))
  await ctx.call('alice', 'list-cb', (cb) => tr.list(cb))
  await ctx.call('alice', 'send-tr-cb', (cb) => tr.send('to all', cb))
  await ctx.waitCount('bob', 'message', 3)
  await ctx.settle(250)
}

const IMAGE = { text: 'img <b>', attr: { a: 1 }, url: 'http://x/y.png', objectId: 'f1', metaData: { name: 'n', format: 'png', height: 1, width: 2, size: 3 } }
const AUDIO = { text: 'aud', url: 'http://x/a.mp3', objectId: 'f2', metaData: { name: 'a', format: 'mp3', duration: 4, size: 5 } }
const VIDEO = { url: 'http://x/v.mp4', metaData: { name: 'v', format: 'mp4', duration: 6, size: 7 } }
const LOCATION = { text: 'here', metaData: { longitude: 116.3, latitude: 39.9 } }
const FILE = { text: 'doc', url: 'http://x/f.pdf', objectId: 'f3', metaData: { name: 'f.pdf', size: 8 } }

scenarios['media round trips'] = async (rt, ctx) => {
  const alice = await ctx.open('alice')
  const bob = await ctx.open('bob', { encodeHTML: true })
  const room = await ctx.create('alice', alice, { name: 'M', members: [ctx.id('bob')] })
  await ctx.waitCount('bob', 'invited', 1)
  const sends = [
    ['text', { text: 'hi <i>', attr: { k: 'v' } }, { type: 'text' }],
    ['image', IMAGE, { type: 'image' }],
    ['audio', AUDIO, { type: 'audio' }],
    ['video', VIDEO, { type: 'video' }],
    ['location', LOCATION, { type: 'location' }],
    ['file', FILE, { type: 'file' }],
    ['custom', { _lctype: 1, _lctext: '<x>', custom: [1, 2] }, null],
    ['object', { a: '<b>', n: 1 }, null],
    ['html string', '<script>&</script>', null],
    ['json array string', '[1,2]', null]
  ]
  let n = 0
  for (const [label, data, options] of sends) {
    await ctx.call('alice', `send ${label}`, (cb) => (options ? room.send(data, Object.assign({}, options), cb) : room.send(data, cb)))
    n++
    await ctx.waitCount('bob', 'message', n)
  }
  const bobRoom = await ctx.fetch('bob', bob, room.id)
  await ctx.waitAcked(room.id, sends.length)
  await ctx.call('bob', 'log-cb', (cb) => bobRoom.log({ limit: 20 }, cb))
  await ctx.settle(150)
}

scenarios['log paging'] = async (rt, ctx) => {
  const alice = await ctx.open('alice')
  const room = await ctx.create('alice', alice, { name: 'L', members: [] })
  const acks = []
  for (let k = 0; k < 5; k++) {
    acks.push(await ctx.call('alice', `send m${k}`, (cb) => room.send(`m${k}`, cb)))
    await sleep(3) // distinct timestamps for `t` bounds
  }
  const newest2 = await ctx.call('alice', 'log limit 2', (cb) => room.log({ limit: 2 }, cb))
  if (!Array.isArray(newest2) || !newest2.length) throw new Error('log returned no messages')
  const older = await ctx.call('alice', 'log t=oldest-of-page limit 2', (cb) => room.log({ t: newest2[0].timestamp, limit: 2 }, cb))
  if (older.length) {
    await ctx.call('alice', 'log t+mid limit 10', (cb) => room.log({ t: older[0].timestamp, mid: older[0].msgId, limit: 10 }, cb))
  }
  await ctx.call('alice', 'log (1-arg form)', (cb) => room.log(cb))
  await ctx.call('alice', 'log limit 0 (means 20)', (cb) => room.log({ limit: 0 }, cb))
  await ctx.call('alice', 'log t=first ack', (cb) => room.log({ t: acks[0].t }, cb))
}

scenarios['query flags'] = async (rt, ctx) => {
  const alice = await ctx.open('alice')
  await ctx.open('bob')
  const q1 = await ctx.create('alice', alice, { name: 'Q1', members: [ctx.id('bob')], attr: { k: 1 } })
  const q2 = await ctx.create('alice', alice, { name: 'Q2', members: [ctx.id('bob')], attr: { k: 2 } })
  const q3 = await ctx.create('alice', alice, { name: 'Q3', members: [] })
  await ctx.waitCount('bob', 'invited', 2)
  // Distinct lm for every room, so the default `-lm` sort has no ties.
  await ctx.call('alice', 'send q1', (cb) => q1.send('first', cb))
  await sleep(5)
  await ctx.call('alice', 'send q3', (cb) => q3.send({ second: true }, cb))
  await sleep(5)
  await ctx.call('alice', 'send q2', (cb) => q2.send('last one', cb))
  await ctx.waitCount('bob', 'message', 2)
  await ctx.call('alice', 'query default', (cb) => alice.query(cb))
  await ctx.call('alice', 'query compact', (cb) => alice.query({ compact: true }, cb))
  await ctx.call('alice', 'query withLastMessages', (cb) => alice.query({ withLastMessages: true }, cb))
  await ctx.call('alice', 'query compact+withLastMessages', (cb) => alice.query({ compact: true, withLastMessages: true }, cb))
  const where = { m: [ctx.id('alice'), ctx.id('bob')] }
  await ctx.call('alice', 'query m $all sort name', (cb) => alice.query({ where, sort: 'name' }, cb))
  await ctx.call('alice', 'query roomIds', (cb) => alice.query({ where: { roomIds: [q1.id, q2.id] }, sort: 'name', limit: 1, skip: 1 }, cb))
  await ctx.call('alice', 'query attr.k', (cb) => alice.query({ where: { 'attr.k': 2, c: ctx.id('alice') } }, cb))
  await ctx.fetch('alice', alice, '5550000000000000000000ff', 'room(unknown id)-cb')
  await ctx.call('alice', 'update-cb', (cb) => q1.update({ name: 'Q1b', attr: { y: 2 } }, cb))
  ctx.rec('alice', 'local room after update', roomInfo(q1))
  await ctx.fetch('alice', alice, q1.id, 'room(q1)-cb')
  await ctx.call('alice', 'count-cb', (cb) => q1.count(cb))
  await ctx.call('alice', 'list-cb', (cb) => q1.list(cb))
}

scenarios['ping'] = async (rt, ctx) => {
  const alice = await ctx.open('alice')
  await ctx.open('bob')
  await ctx.call('alice', 'ping list', (cb) => alice.ping([ctx.id('carol'), ctx.id('bob'), ctx.id('alice')], cb))
  await ctx.call('alice', 'ping string', (cb) => alice.ping(ctx.id('bob'), cb))
  await ctx.call('alice', 'ping offline', (cb) => alice.ping(ctx.id('carol'), cb))
  await ctx.call('alice', 'ping empty', (cb) => alice.ping([], cb))
}

scenarios['offline delivery'] = async (rt, ctx) => {
  const alice = await ctx.open('alice')
  let bob = await ctx.open('bob')
  const room = await ctx.create('alice', alice, { name: 'O', members: [ctx.id('bob')] })
  await ctx.waitCount('bob', 'invited', 1)
  bob.close()
  await ctx.waitCount('bob', 'close', 1)
  await ctx.settle(300)
  await ctx.call('alice', 'ping bob (offline)', (cb) => alice.ping(ctx.id('bob'), cb))
  await ctx.call('alice', 'send 1', (cb) => room.send('while you were out 1', cb))
  await ctx.call('alice', 'send 2', (cb) => room.send({ n: 2 }, { receipt: true }, cb))
  bob = await ctx.open('bob')
  await ctx.waitCount('bob', 'message', 2)
  await ctx.waitCount('alice', 'receipt', 1)
  await ctx.settle(300)
  // bob acked both: a third session gets nothing.
  bob.close()
  await ctx.waitCount('bob', 'close', 2)
  await ctx.settle(200)
  bob = await ctx.open('bob')
  await ctx.settle(400)
  void bob
}

scenarios['custom events'] = async (rt, ctx) => {
  const a = await ctx.open('a')
  const f = (d) => ctx.rec('a', 'f', d)
  const g = (d) => ctx.rec('a', 'g', d)
  a.on('a  b', f)
  a.on('a', f)
  a.once('a', g)
  ctx.rec('a', 'emit returns self', a.emit('a', 1) === a)
  ctx.rec('a', 'off returns self', a.off('a', f) === a)
  a.emit('a', 2)
  a.emit('b', 3)
  a.off('a b', f)
  a.emit('b', 4)
  // off without fn is a no-op; once listeners cannot be removed with off.
  a.once('c', g)
  a.off('c', g)
  a.off('c')
  a.emit('c', 5)
  a.emit('c', 6)
  // Regular before once regardless of registration order; listeners added during emit wait.
  a.once('d', (x) => { ctx.rec('a', 'd-once', x); a.on('d', (y) => ctx.rec('a', 'd-late', y)) })
  a.on('d', (x) => ctx.rec('a', 'd-on', x))
  a.emit('d', 7)
  a.emit('d', 8)
  // on/once return the object (chainable).
  ctx.rec('a', 'on returns self', a.on('e', f) === a)
  ctx.rec('a', 'once returns self', a.once('e', f) === a)
  // A user emit of a built-in event name reaches the built-in listeners' audience.
  a.emit('message', { cid: 'x', msg: 'synthetic' })
  a.emit('e')
}

scenarios['statics'] = async (rt, ctx) => {
  ctx.rec('x', 'typeof realtime', typeof rt)
  ctx.rec('x', 'realtime.realtime === realtime', rt.realtime === rt)
  ctx.rec('x', 'version', rt.version)
  ctx.rec('x', 'typeof config', typeof rt.config)
  const tool = rt._tool || {}
  ctx.rec('x', 'typeof _tool.encodeHTML', typeof tool.encodeHTML)
  if (typeof tool.encodeHTML === 'function') {
    ctx.rec('x', 'encodeHTML string', tool.encodeHTML('<a href="x">&</a>'))
    ctx.rec('x', 'encodeHTML object', tool.encodeHTML({ a: '<b>', n: [1, '<c>'], z: null }))
  }
  const a = await ctx.open('a')
  ctx.rec('a', 'clientId', a.clientId)
  ctx.rec('a', 'method types', ['open', 'close', 'on', 'once', 'emit', 'off', 'room', 'conv', 'query', 'ping'].map((k) => [k, typeof a[k]]))
  const room = await ctx.create('a', a, { name: 'St', members: [], attr: { q: 1 } })
  ctx.rec('a', 'room method types', ['add', 'remove', 'join', 'leave', 'send', 'log', 'receive', 'receipt', 'list', 'count', 'update'].map((k) => [k, typeof room[k]]))
  ctx.rec('a', 'room(opts) returns room', a.room({ name: 'St2' }, () => {}) && 'object')
  ctx.rec('a', 'conv alias', typeof a.conv)
  await ctx.settle(200)
}

scenarios['raw cmd-op events and listener order'] = async (rt, ctx) => {
  const raw = (name, client, ev) => client.on(ev, (d) => ctx.rec(name, 'raw ' + ev, d))
  const alice = await ctx.open('alice', {}, (c) => {
    // Registered before the first socket opens: these run BEFORE the SDK's internal handlers.
    for (const ev of ['session-opened', 'conv-started', 'conv-added', 'ack', 'logs', 'conv-results', 'session-query-result', 'conv-members-joined']) raw('alice', c, ev)
  })
  const bob = await ctx.open('bob', {}, (c) => {
    raw('bob', c, 'direct')
    raw('bob', c, 'conv-joined')
  })
  // Registered after open: these run AFTER the internal handlers (msg already converted).
  bob.on('direct', (d) => ctx.rec('bob', 'raw direct (late)', d))
  const room = await ctx.create('alice', alice, { name: 'Raw', members: [ctx.id('bob')] })
  await ctx.waitCount('bob', 'invited', 1)
  await ctx.call('alice', 'send-cb', (cb) => room.send({ j: 1 }, cb))
  await ctx.call('alice', 'send-media-cb', (cb) => room.send({ text: 't' }, { type: 'text' }, cb))
  await ctx.waitCount('bob', 'message', 2)
  await ctx.call('alice', 'add-cb', (cb) => room.add(ctx.id('carol'), cb))
  await ctx.waitCount('alice', 'membersjoined', 1)
  await ctx.waitAcked(room.id, 1)
  await ctx.call('alice', 'log-cb', (cb) => room.log({ limit: 1 }, cb))
  await ctx.call('alice', 'query-cb', (cb) => alice.query({ where: { objectId: room.id } }, cb))
  await ctx.call('alice', 'ping-cb', (cb) => alice.ping(ctx.id('bob'), cb))
  await ctx.settle(150)
}

scenarios['errors as events and error acks'] = async (rt, ctx) => {
  const alice = await ctx.open('alice')
  const bob = await ctx.open('bob')
  const room = await ctx.create('alice', alice, { name: 'Err', members: [] })
  const bobView = await ctx.fetch('bob', bob, room.id)
  // Non-member send: an ack carrying code/reason goes to the send callback.
  await ctx.call('bob', 'send non-member', (cb) => bobView.send('let me in', cb))
  // Non-member history: an error frame -> `error` event; the log callback never fires.
  bobView.log(() => ctx.rec('bob', 'log-cb (must not fire)'))
  await ctx.waitCount('bob', 'error', 1)
  // Unknown cid: count and update fail with error frames.
  const ghost = await ctx.fetch('alice', alice, '5550000000000000000000ee')
  ctx.rec('alice', 'ghost', ghost)
  const saved = room.id
  room.id = '5550000000000000000000ee'
  room.count(() => ctx.rec('alice', 'count-cb (must not fire)'))
  await ctx.waitCount('alice', 'error', 1)
  room.update({ name: 'x' }, () => ctx.rec('alice', 'update-cb (must not fire)'))
  await ctx.waitCount('alice', 'error', 2)
  await ctx.call('alice', 'send unknown cid', (cb) => room.send('x', cb))
  room.id = saved
  // The connection keeps working.
  await ctx.call('alice', 'ping after errors', (cb) => alice.ping([ctx.id('bob')], cb))
  await ctx.settle(200)
}

scenarios['unique, anonymous and multi-device'] = async (rt, ctx) => {
  const alice = await ctx.open('alice')
  const alice2 = await ctx.open('alice2', { clientId: ctx.id('alice') })
  const anon = await ctx.open('anon', { clientId: undefined })
  ctx.rec('anon', 'clientId', anon.clientId)
  const members = [ctx.id('u1'), ctx.id('u2')]
  const u1 = await ctx.create('alice', alice, { name: 'U', members, unique: true })
  const u2 = await ctx.create('alice', alice, { name: 'U', members: members.slice().reverse(), unique: true })
  ctx.rec('alice', 'same unique id', u1.id === u2.id)
  const room = await ctx.create('alice', alice, { name: 'Multi', members: [ctx.id('bob')] })
  await ctx.call('alice', 'send', (cb) => room.send('to my other device', cb))
  await ctx.waitCount('alice2', 'message', 1)
  await ctx.settle(200)
  void alice2
}

scenarios['server restart: close, reuse, open'] = async (rt, ctx) => {
  if (!ctx.restartServer) throw new Error('this scenario needs ctx.restartServer')
  const alice = await ctx.open('alice')
  const bob = await ctx.open('bob')
  const room = await ctx.create('alice', alice, { name: 'RS', members: [ctx.id('bob')] })
  await ctx.waitCount('bob', 'invited', 1)
  await ctx.restartServer()
  // 2.4.0 reconnects 5 s after the close; leanrt starts its backoff at 5 s too.
  await ctx.waitCount('alice', 'open', 2, 15000)
  await ctx.waitCount('bob', 'open', 2, 15000)
  await ctx.call('alice', 'send after reconnect', (cb) => room.send('again', cb))
  await ctx.waitCount('bob', 'message', 1)
  await ctx.call('alice', 'list after reconnect', (cb) => room.list(cb))
  await ctx.settle(150)
  void bob
}

module.exports = { scenarios, runScenario, makeCtx, newPrefix, EVENTS, roomInfo }
