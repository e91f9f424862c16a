'use strict'
// Reply callbacks (protocol.md §3). 2.4.0 adds one listener per request to the reply's
// event name, each comparing `i`, so every reply costs as many calls as there are
// requests in flight (about 50 µs a message with 1000 sends in flight). leanrt keeps one
// listener per reply name while requests wait for it, and finds their handlers by `i`.
// The handlers, their order and "handler first, then removal" are 2.4.0's; only a raw
// listener of that name added while requests wait runs after their handlers instead of
// between them (README, deviations).
//
// Requests that get no reply are forgotten, where 2.4.0 kept their listeners for good:
// one the server refused (`{"cmd":"error","i":…}`; 2.4.0 never calls it either), and one
// still waiting when its serial id comes round again (after 999999 comes 2015), so that
// it cannot fire for the unrelated request that now has its id. So at most one round of
// serial ids (997 985) waits at a time.

/**
 * Runs `handler(frame)`, if given, for the next `eventName` frame whose `i` is
 * `serialId`. A handler that is not a function throws then, as in 2.4.0.
 */
function onReply(cache, eventName, serialId, handler) {
  const waiting = cache.replies || watch(cache)
  const round = cache.serialRound || 0
  const entry = waiting.has(eventName) && waiting.get(eventName).get(serialId)
  // The same id twice in one round (an app's own `serialId`) waits twice, as in 2.4.0.
  if (entry && entry.round === round) return void entry.handlers.push(handler)
  forget(cache, serialId)
  let pending = waiting.get(eventName)
  if (!pending) {
    pending = new Map()
    const dispatch = function (data) {
      const entry = pending.get(data.i)
      if (!entry) return
      // As 2.4.0: each handler runs, then goes; one that throws stays, and stops the rest.
      const handlers = entry.handlers
      while (handlers.length) {
        const handler = handlers[0]
        if (handler) handler(data)
        handlers.shift()
      }
      pending.delete(data.i)
      forgetIfIdle(cache, eventName, pending)
    }
    pending.dispatch = dispatch
    waiting.set(eventName, pending)
    cache.ec.on(eventName, dispatch)
  }
  pending.set(serialId, { round, handlers: [handler] })
}

/** The first request: the waiting map, and the listener that forgets refused requests. */
function watch(cache) {
  cache.replies = new Map()
  cache.ec.on('error', function (data) {
    if (data && data.cmd === 'error' && data.i !== undefined) forget(cache, data.i)
  })
  return cache.replies
}

/** Forgets every request waiting with serial id `serialId`. */
function forget(cache, serialId) {
  for (const [eventName, pending] of cache.replies) {
    if (pending.delete(serialId)) forgetIfIdle(cache, eventName, pending)
  }
}

/** Removes the listener of `eventName` once no request waits for it. */
function forgetIfIdle(cache, eventName, pending) {
  if (pending.size === 0 && cache.replies.get(eventName) === pending) {
    cache.replies.delete(eventName)
    cache.ec.off(eventName, pending.dispatch)
  }
}

module.exports = { onReply }
