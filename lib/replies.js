'use strict'
// Reply callbacks (protocol.md §3). 2.4.0 adds one listener per request to the reply's
// event name, each comparing `i`, so every reply costs as many calls as there are
// requests in flight (about 50 µs a message with 1000 sends in flight). leanrt keeps one
// listener per reply name while requests wait for it, and finds their handlers by `i`.
// The handlers, their order and "handler first, then removal" are 2.4.0's; only a raw
// listener of that name added while requests wait runs after their handlers instead of
// between them (README, deviations).

/**
 * Runs `handler(frame)`, if given, for the next `eventName` frame whose `i` is
 * `serialId`. A handler that is not a function throws then, as in 2.4.0.
 */
function onReply(cache, eventName, serialId, handler) {
  const waiting = cache.replies || (cache.replies = new Map())
  let pending = waiting.get(eventName)
  if (!pending) {
    pending = new Map()
    const dispatch = function (data) {
      const handlers = pending.get(data.i)
      if (!handlers) return
      // As 2.4.0: each handler runs, then goes; one that throws stays, and stops the rest.
      while (handlers.length) {
        const handler = handlers[0]
        if (handler) handler(data)
        handlers.shift()
      }
      pending.delete(data.i)
      if (pending.size === 0 && waiting.get(eventName) === pending) {
        waiting.delete(eventName)
        cache.ec.off(eventName, dispatch)
      }
    }
    waiting.set(eventName, pending)
    cache.ec.on(eventName, dispatch)
  }
  const handlers = pending.get(serialId)
  if (handlers) handlers.push(handler)
  else pending.set(serialId, [handler])
}

module.exports = { onReply }
