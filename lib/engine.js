'use strict'
// `realtime._engine`: the frame builders and the internal event handlers of 2.4.0,
// on top of the native connection. Functions take the RealtimeObject's `cache`
// first and are called through this object, so apps may still monkey-patch them.
const tool = require('./tool')
const media = require('./media')
const { config, native } = require('./config')
const foreignSocket = require('./foreign-socket')
const { NativeSocket } = require('./native-socket')

const UA = 'js/2.4.0'

const engine = {}

/** The native connection of a RealtimeObject's cache (`cache.ws` is its socket). */
const CONNECTION = Symbol('leanrt.connection')
/** The native connections `close()` ended. */
const userClosed = new WeakSet()
/** The JS socket driver of each native connection on the injected transport. */
const drivers = new WeakMap()
/** `Connection.send`'s answer when too many sends wait already. */
const SEND_QUEUE_FULL = 2
/** How many sends may wait for the engine. */
const SEND_QUEUE = native.SEND_QUEUE

/** `close()`: sends `session close` (fix §9.4) and ends the connection for good. */
engine.closeConnection = function (cache) {
  const connection = cache[CONNECTION]
  if (!connection) return
  userClosed.add(connection)
  connection.close(engine.closeSession(cache))
  const sockets = drivers.get(connection)
  if (sockets) sockets.stop(connection)
}

/**
 * leanrt's addition: stops (`true`) or resumes (`false`) reading this client's socket,
 * for consumers that cannot keep up (`leanrt/promises`' message iterator).
 */
engine.pause = function (cache, paused) {
  const connection = cache[CONNECTION]
  if (connection) connection.pause(Boolean(paused))
}

engine.getMediaMsg = media.getMediaMsg
engine.setMediaMsg = media.setMediaMsg

/** The next serial id: 2016 first, after 999999 comes 2015 (and a new round). */
engine.getSerialId = function (cache) {
  cache.serialId++
  if (cache.serialId > 999999) {
    cache.serialId = 2015
    cache.serialRound = (cache.serialRound || 0) + 1
  }
  return cache.serialId
}

function frameText(cache, data) {
  data.peerId = cache.options.peerId
  return JSON.stringify(data)
}

/** Reports a frame the engine could not take, as an `error` event. */
function unsent(cache, why, frame) {
  const err = new Error('leanrt: ' + why + '; this frame was not sent')
  err.frame = frame
  cache.ec.emit('error', err)
}

/**
 * Sends a frame unless closed; the engine holds it while offline (fix §9.2). The
 * `session open` frame goes this way too, so a patched wsSend sees every frame.
 */
engine.wsSend = function (cache, data) {
  const connection = cache[CONNECTION]
  if (cache.closeFlag || !connection) return
  const text = frameText(cache, data)
  if (data.cmd === 'session' && data.op === 'open') connection.openSession(text)
  else if (connection.send(text) === SEND_QUEUE_FULL) unsent(cache, `${SEND_QUEUE} sends wait already`, data)
}

/** Calls the app's auth function when set, then `send(cmd)` with n/t/s added. */
function signed(cache, params, denial, cmd, send) {
  if (!params) return send(cmd)
  cache.authFun(params, function (authResult) {
    if (authResult && authResult.signature) {
      cmd.n = authResult.nonce
      cmd.t = authResult.timestamp
      cmd.s = authResult.signature
      send(cmd)
    } else {
      throw new Error(denial + authResult)
    }
  })
}

engine.openSession = function (cache, options) {
  const cmd = { cmd: 'session', op: 'open', appId: cache.options.appId, ua: UA, i: options.serialId }
  const connection = cache[CONNECTION]
  const params = cache.authFun && { clientId: cache.options.peerId }
  signed(cache, params, 'Session open denied by application: ', cmd, (c) => {
    if (cache[CONNECTION] === connection) engine.wsSend(cache, c)
  })
}

/**
 * The `session close` frame that `close()` sends first (fix §9.4). Its `i` is the last
 * serial id used, not a new one: 2.4.0 sends nothing here, so the serial ids of every
 * later request (the next `session open` included) stay those of 2.4.0.
 */
engine.closeSession = function (cache) {
  return frameText(cache, { cmd: 'session', op: 'close', i: cache.serialId })
}

engine.startConv = function (cache, options) {
  const cmd = {
    cmd: 'conv',
    op: 'start',
    m: options.members,
    attr: { name: options.name || '', attr: options.attr || {} },
    i: options.serialId,
    unique: options.unique || false,
    transient: options.transient || false,
  }
  const params = cache.authFun && { clientId: cache.options.peerId, members: options.members }
  signed(cache, params, 'Conversation creation denied by application: ', cmd, (c) => engine.wsSend(cache, c))
}

engine.convAdd = function (cache, options) {
  const cmd = { cmd: 'conv', op: 'add', cid: options.cid, m: options.members, i: options.serialId }
  const params = cache.authFun && {
    clientId: cache.options.peerId,
    members: options.members,
    convId: options.cid,
    action: 'invite',
  }
  signed(cache, params, 'Adding members to conversation denied by application: ', cmd, (c) => engine.wsSend(cache, c))
}

engine.convRemove = function (cache, options) {
  const cmd = { cmd: 'conv', op: 'remove', cid: options.cid, m: options.members, i: options.serialId }
  // As 2.4.0: no signature for removing exactly [self] (loose `!=`), and `members` is only
  // looked at when there is an auth function (so `remove()` without one sends `m`-less).
  const needsAuth =
    cache.authFun && (options.members.length > 1 || options.members[0] != cache.options.peerId) // eslint-disable-line eqeqeq
  const params = needsAuth && {
    clientId: cache.options.peerId,
    members: options.members,
    convId: options.cid,
    action: 'kick',
  }
  signed(cache, params, 'Removing members from conversation denied by application: ', cmd, (c) =>
    engine.wsSend(cache, c),
  )
}

engine.send = function (cache, options) {
  engine.wsSend(cache, {
    cmd: 'direct',
    cid: options.cid,
    msg: options.data,
    i: options.serialId,
    r: options.receipt || false,
    transient: options.transient || false,
  })
}

engine.convQuery = function (cache, options) {
  options = options || {}
  const where = options.where || {}
  // As 2.4.0, any truthy non-string `m` becomes `{$all: m}`, except (fix §9.9) a
  // non-array object, which is sent as given (e.g. `{$in: [...]}`).
  if (where.m && typeof where.m !== 'string' && (Array.isArray(where.m) || typeof where.m !== 'object')) {
    where.m = { $all: where.m }
  }
  if (where.roomIds || where.convIds) {
    where.objectId = { $in: where.roomIds || where.convIds }
    delete where.roomIds
    delete where.convIds
  }
  engine.wsSend(cache, {
    cmd: 'conv',
    op: 'query',
    where,
    sort: options.sort || '-lm',
    limit: options.limit || 10,
    skip: options.skip || 0,
    flag: options.flag,
    i: options.serialId,
  })
}

engine.querySession = function (cache, options) {
  engine.wsSend(cache, { cmd: 'session', op: 'query', i: options.serialId, sessionPeerIds: options.peerIdList })
}

engine.convLog = function (cache, options) {
  engine.wsSend(cache, {
    cmd: 'logs',
    cid: options.cid,
    t: options.t || undefined,
    mid: options.mid || undefined,
    limit: options.limit || 20,
    i: options.serialId,
  })
}

engine.convUpdate = function (cache, options) {
  engine.wsSend(cache, { cmd: 'conv', op: 'update', cid: options.cid, attr: options.data, i: options.serialId })
}

engine.convCount = function (cache, options) {
  engine.wsSend(cache, { cmd: 'conv', op: 'count', i: options.serialId, cid: options.cid })
}

/**
 * Starts (or restarts) the connection of a RealtimeObject. The environment variable
 * LEANRT_RECONNECT_DELAY_MS overrides the first reconnect delay (5000 ms, as 2.4.0),
 * for tests.
 */
engine.connect = function (cache) {
  // A connection that close() ended may not have stopped yet (close() then open() in one
  // tick): it would swallow the reconnect, so it is replaced instead.
  const current = cache[CONNECTION]
  if (current && !userClosed.has(current) && current.reconnect()) return
  const o = cache.options
  const foreign = Boolean(config.WebSocket)
  const delay = Number(process.env.LEANRT_RECONNECT_DELAY_MS)
  const options = {
    appId: String(o.appId),
    peerId: o.peerId === undefined || o.peerId === null ? undefined : String(o.peerId),
    server: o.server,
    router: o.router,
    region: o.region,
    secure: Boolean(o.secure),
    reconnectDelayMs: delay > 0 ? Math.min(delay, 2 ** 31) : undefined,
    foreign,
  }
  // The injected class's instances become `cache.ws` as they are created; until the
  // first one exists, `cache.ws` is undefined, as in 2.4.0 before its socket.
  const onSocket = (socket) => {
    if (cache[CONNECTION] === connection) cache.ws = socket
  }
  const connection = new native.Connection(options, hub)
  // What follows the connection's events besides the engine: the injected sockets'
  // driver, or the native transport's `cache.ws`.
  const transport = foreign ? foreignSocket.driver(config.WebSocket, onSocket) : new NativeSocket(connection)
  running.set(connection.id, { cache, connection, transport })
  if (foreign) drivers.set(connection, transport)
  cache[CONNECTION] = connection
  cache.ws = foreign ? undefined : transport
}

/** Items of a connection left when a listener threw, handled once its error surfaced. */
const backlogs = new WeakMap()

/**
 * The native connections whose engine still runs, by id: `{cache, connection, transport}`.
 * A connection's last batch ends with `{"$":"ended"}`, and then it is forgotten.
 */
const running = new Map()

/**
 * Hands the events of every connection that has some to `engine.dispatch`: one call
 * of the JS thread for all of them (`[[id, events], …]`).
 */
function deliver(batch) {
  let groups
  try {
    groups = JSON.parse(batch)
  } catch (err) {
    // Never seen: the engine writes each item as JSON. Every client hears of it.
    groups = [...running.keys()].map((id) => [id, [{ $: 'error', message: 'leanrt: undecodable event batch: ' + err.message }]])
  }
  for (const [id, items] of groups) {
    const entry = running.get(id)
    if (!entry) continue
    if (items.length && items[items.length - 1].$ === 'ended') {
      running.delete(id)
      items.pop()
    }
    engine.dispatch(entry.cache, entry.connection, entry.transport, items)
  }
}

/** Where this module's connections deliver their events. */
const hub = new native.EventHub(deliver)

/** Handles one connection's events, after any backlog of that connection. */
engine.dispatch = function (cache, ws, transport, items) {
  const backlog = backlogs.get(ws)
  if (backlog) {
    for (const item of items) backlog.push(item)
    return
  }
  engine.drain(cache, ws, transport, items)
}

/**
 * Handles items in order. When a listener throws, its error surfaces as an uncaught exception
 * before the next item is handled, as it would with one frame per read. (2.4.0 loses the
 * frames that came in the same read after a throw; leanrt handles them afterwards.)
 * Messages are acked once dispatched: each read's frames are followed by an `acks`
 * marker, and the last marker reached is answered with one native call, so the acks of
 * everything the batch dispatched go out in one write.
 */
engine.drain = function (cache, ws, transport, items) {
  let acked = 0
  for (let k = 0; k < items.length; k++) {
    const item = items[k]
    if (item.$ === 'acks') {
      acked = item.upto
      continue
    }
    try {
      engine.handle(cache, ws, transport, item)
    } catch (err) {
      if (acked) ws.ack(acked)
      const rest = items.slice(k + 1)
      backlogs.set(ws, rest)
      process.nextTick(() => {
        throw err
      })
      setImmediate(() => {
        backlogs.delete(ws)
        engine.drain(cache, ws, transport, rest)
      })
      return
    }
  }
  if (acked) ws.ack(acked)
}

/** One item of a batch: a frame, a driver command or an engine event. */
engine.handle = function (cache, ws, transport, item) {
  if (item.$ === undefined) {
    if (transport._listening) transport.observe(ws, item)
    return engine.wsMessage(cache, { data: item })
  }
  if (transport.observe(ws, item)) return
  // The socket close of a connection close() ended is still the user's `close` event,
  // even when open() has replaced it meanwhile (2.4.0 emits it for the old socket).
  // Nor is a connection close() ended an `error` any more (a handshake it cut short).
  if (item.$ === 'error' && userClosed.has(ws)) return
  if (cache[CONNECTION] === ws || (item.$ === 'close' && userClosed.has(ws))) engine.lifecycle(cache, item)
}

/** An engine event (anything but a frame). */
engine.lifecycle = function (cache, item) {
  switch (item.$) {
    case 'socket-open':
      return engine.wsOpen(cache)
    case 'close':
      return cache.ec.emit('close', { type: 'close', code: item.code, reason: item.reason, wasClean: item.code !== 1006 })
    case 'reuse':
      cache.reuseFlag = true
      return cache.ec.emit('reuse')
    case 'error':
      return cache.ec.emit('error', new Error(item.message))
    case 'dropped':
      return unsent(cache, 'offline with too many sends held', JSON.parse(item.frame))
  }
}

engine.wsOpen = function (cache) {
  engine.bindEvent(cache)
  engine.openSession(cache, { serialId: engine.getSerialId(cache) })
}

/**
 * Emits a frame under its `cmd[-op]` name. As in 2.4.0 it takes a MessageEvent whose
 * `data` is the frame's text; leanrt's own calls pass the frame already parsed as
 * `data` (the native engine parses a whole batch at once).
 */
engine.wsMessage = function (cache, msg) {
  const data = typeof msg.data === 'string' ? JSON.parse(msg.data) : msg.data
  if (!data || !data.cmd) return
  const eventName = data.op ? data.cmd + '-' + data.op : data.cmd
  cache.ec.emit(eventName, data)
}

/** The internal handlers, registered when the first socket opens (as 2.4.0). */
engine.bindEvent = function (cache) {
  if (cache.bound) return
  cache.bound = true
  const ec = cache.ec
  ec.on('session-opened', function (data) {
    cache.reuseFlag = false
    cache.openFlag = true
    // Fix §9.10: an anonymous client adopts the id the server assigned.
    if ((cache.options.peerId === undefined || cache.options.peerId === null) && data.peerId) {
      cache.options.peerId = data.peerId
    }
    ec.emit('open', data)
  })
  ec.on('session-error', function (data) {
    ec.emit('error', data)
  })
  ec.on('conv-joined', function (data) {
    if (data.peerId !== data.initBy) ec.emit('join', data)
    ec.emit('invited', data)
  })
  ec.on('conv-left', function (data) {
    ec.emit('left', data)
    ec.emit('kicked', data)
  })
  ec.on('conv-members-joined', function (data) {
    ec.emit('join', data)
    ec.emit('membersjoined', data)
  })
  ec.on('conv-members-left', function (data) {
    ec.emit('left', data)
    ec.emit('membersleft', data)
  })
  // Fix §9.6: an `error` event, no throw.
  ec.on('conv-error', function (data) {
    ec.emit('error', data)
  })
  // The engine acks it once this batch is dispatched (acks of one batch go out in one
  // write); 2.4.0 acked each message just before emitting it.
  ec.on('direct', function (data) {
    data.msg = engine.getMediaMsg(cache, data.msg)
    ec.emit('message', data)
  })
  ec.on('rcp', function (data) {
    ec.emit('receipt', data)
  })
}

module.exports = engine
