'use strict'
// Loads the ORIGINAL leancloud-realtime 2.4.0 (node_modules/leancloud-realtime, lib/realtime.js,
// its npm `xmlhttprequest` router client and its bundled `ws` 0.8) and points it at a
// leanrt-server router, in this process.
//
//   const { originalFactory, closeAll } = require('./helpers/original')
//   const rt = originalFactory(srv.routerUrl)       // same signature as realtime(options, cb)
//   const client = rt({ appId: 'A', clientId: 'alice' }, (opened) => { ... })
//   ...
//   await closeAll()                                 // in `after`/`afterEach`
//   const bob = await opened(rt, 'A', 'bob')          // a client, once open
//   const room = await call((cb) => bob.room(cid, cb)) // a one-callback call as a promise
//
// Patches (all on the module-global `realtime._engine`, applied once):
// - getServer: the original's own logic (region check that throws 'There is no this region.',
//   `_t`, `appId` verbatim, `&secure=1` when secure, its `_tool.ajax` over xmlhttprequest,
//   `data.expires = now + ttl*1000`, `cache.server = data`, `callback(data)`, and the `error`
//   event with no payload on failure). Only the host changes: `{routerUrl}/v1/route`.
// - heartbeats: the same one-shot timer re-armed by each message on the first socket, but
//   unref()'d, and it does not send on a socket that is not OPEN or after close(). 2.4.0 would
//   throw `not opened` there (protocol.md §2.3 bug 2 / §8.8); that crash is the client's bug,
//   not the server's, and must not break unrelated tests.
// - guard: the same 180 s timer and close/session-closed listener, but the timer is unref()'d,
//   so it does not keep Node alive for 3 minutes after close().
// - wsMessage / wsSend: wrapped only to record the raw text frames (cache.rawIn, cache.rawOut,
//   and the module-level `frames` list).
// Nothing else is touched: frames, event order, callbacks and throws are 2.4.0's own.
//
// Uncaught exceptions: 2.4.0 throws uncaught on `conv error` frames, non-JSON text, socket
// errors and router network errors. `uncaught` collects every uncaught exception in this
// process; tests assert it stays empty (`assertNoUncaught`) and `waitFor` fails fast on one.
const realtime = require('leancloud-realtime')

const engine = realtime._engine
const tool = realtime._tool

let heartbeatsTime = 60 * 1000
let currentRouter = null
const instances = new Set()
const uncaught = []
const frames = [] // {clientId, text} of every frame any 2.4.0 instance received

process.on('uncaughtException', (e) => {
  uncaught.push(e)
})

if (!engine.__leanrtPatched) {
  engine.__leanrtPatched = true

  const origConfig = realtime.config
  realtime.config = function (newConfig) {
    if (newConfig && newConfig.heartbeatsTime !== undefined) heartbeatsTime = newConfig.heartbeatsTime
    return origConfig.apply(this, arguments)
  }

  // Record raw frames in both directions (no behaviour change): cache.rawIn / cache.rawOut,
  // and every inbound text in `frames` (for checks over a whole test file).
  const origWsMessage = engine.wsMessage
  engine.wsMessage = function (cache, msg) {
    const text = typeof msg.data === 'string' ? msg.data : String(msg.data)
    ;(cache.rawIn = cache.rawIn || []).push(text)
    frames.push({ clientId: cache.options && cache.options.peerId, text })
    return origWsMessage.apply(this, arguments)
  }
  const origWsSend = engine.wsSend
  engine.wsSend = function (cache, data) {
    const r = origWsSend.apply(this, arguments)
    if (!cache.closeFlag && cache.ws) (cache.rawOut = cache.rawOut || []).push(JSON.stringify(data))
    return r
  }

  engine.getServer = function (cache, options, callback) {
    const appId = options.appId
    const secure = options.secure
    switch (options.region) {
      case 'cn':
      case 'us':
        break
      default:
        throw new Error('There is no this region.')
    }
    const base = cache.routerUrl || currentRouter
    if (!base) throw new Error('harness: no router URL set for the original 2.4.0')
    let url = base + '/v1/route'
    url += '?_t=' + tool.now() + '&appId=' + appId
    if (secure) {
      url += '&secure=1'
    }
    cache.routerRequests = (cache.routerRequests || 0) + 1
    cache.lastRouterUrl = url
    tool.ajax(url, function (error, data) {
      if (data) {
        data.expires = tool.now() + data.ttl * 1000
        cache.server = data
        callback(data)
      } else {
        cache.ec.emit('error')
      }
    })
  }

  engine.heartbeats = function (cache) {
    if (cache.openFlag) {
      return
    }
    let timer
    cache.ws.addEventListener('message', function () {
      if (timer) {
        clearTimeout(timer)
      }
      timer = setTimeout(function () {
        const ws = cache.ws
        if (cache.closeFlag || !ws || ws.readyState !== 1) return
        cache.heartbeatsSent = (cache.heartbeatsSent || 0) + 1
        ws.send('{}')
      }, heartbeatsTime)
      if (timer.unref) timer.unref()
    })
  }

  engine.guard = function (cache) {
    if (cache.openFlag) {
      return
    }
    const timeLength = 3 * 60 * 1000
    let timer
    cache.ws.addEventListener('message', function () {
      if (timer) {
        clearTimeout(timer)
      }
      timer = setTimeout(function () {
        if (!cache.closeFlag && !cache.reuseFlag) {
          cache.reuseFlag = true
          cache.ec.emit('reuse')
        }
      }, timeLength)
      if (timer.unref) timer.unref()
    })
    cache.ec.on('close' + ' ' + 'session-closed', function () {
      if (!cache.closeFlag && !cache.reuseFlag) {
        cache.reuseFlag = true
        cache.ec.emit('reuse')
      }
    })
  }
}

/**
 * A `realtime(options, cb)` look-alike that points 2.4.0 at `routerUrl`. Non-object options are
 * passed through untouched, so the original's parameter checks still throw.
 */
function originalFactory (routerUrl) {
  function rt (options, callback) {
    currentRouter = routerUrl
    const obj = arguments.length >= 2 ? realtime(options, callback) : realtime(options)
    if (obj && obj.cache) {
      obj.cache.routerUrl = routerUrl
      instances.add(obj)
    }
    return obj
  }
  rt.version = realtime.version
  rt.config = realtime.config
  rt._tool = realtime._tool
  rt._engine = realtime._engine
  rt.original = realtime
  rt.realtime = rt
  rt.kind = 'original'
  return rt
}

function sleep (ms) {
  return new Promise((resolve) => setTimeout(resolve, ms))
}

// Closes one 2.4.0 instance for good: close() if it is open, otherwise stop it from
// reconnecting and terminate its socket. Waits up to `ms` for the socket to close.
async function closeOne (obj, ms = 1000) {
  const cache = obj.cache
  if (cache.reuseTimer) clearTimeout(cache.reuseTimer)
  const ws = cache.ws
  try {
    if (cache.openFlag && !cache.closeFlag && ws && ws.readyState === 1) {
      obj.close()
    }
  } catch (_) {}
  cache.closeFlag = true
  if (cache.reuseTimer) clearTimeout(cache.reuseTimer)
  if (!ws) return
  const deadline = Date.now() + ms
  while (ws.readyState !== 3 && Date.now() < deadline) await sleep(10)
  if (ws.readyState !== 3) {
    try { ws.terminate() } catch (_) {}
  }
}

async function closeAll () {
  const all = [...instances]
  instances.clear()
  await Promise.all(all.map((o) => closeOne(o)))
}

function assertNoUncaught (assert, since = 0) {
  const list = uncaught.slice(since)
  if (list.length) {
    assert.fail('uncaught exception(s) in the 2.4.0 process: ' +
      list.map((e) => (e && e.stack) || String(e)).join('\n---\n'))
  }
}

// A client of `factory` (from originalFactory), once it has opened.
function opened (factory, appId, clientId) {
  return new Promise((resolve) => {
    const c = factory({ appId, clientId }, () => resolve(c))
  })
}

// A 2.4.0 call that takes one callback (`room`, `send`, `query`, …) as a promise of
// what it passes: `await call((cb) => client.room(cid, cb))`.
const call = (fn) => new Promise((resolve) => fn(resolve))

module.exports = {
  realtime,
  opened,
  call,
  frames,
  originalFactory,
  closeAll,
  closeOne,
  uncaught,
  assertNoUncaught,
  instances
}
