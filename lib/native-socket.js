'use strict'
// `rt.cache.ws` on the native transport: what 2.4.0's WebSocket instance offers, over
// the native connection. `readyState` follows the engine's socket; `close()` drops the
// socket as a lost one, so the client recovers as 2.4.0 does (`close`, `reuse`, and a
// reconnect 5 s later); `send(text)` sends a raw frame. `open`, `message` and `close`
// listeners are called as `ws` calls them: with event objects through
// `addEventListener`, with `(data)` and `(code, reason)` through `on` (`message` costs
// a `JSON.stringify` per frame, and only while someone listens).

const CONNECTING = 0
const OPEN = 1
const CLOSING = 2
const CLOSED = 3
const NAMES = ['open', 'message', 'close']

class NativeSocket {
  constructor(connection) {
    this._connection = connection
    this.readyState = CONNECTING
    /** Listeners by event name, created by the first one. */
    this._listeners = null
  }

  /** Sends a raw text frame (held by the engine while offline). */
  send(text) {
    this._connection.send(String(text))
  }

  /** Closes the current socket; the client then reconnects, as after a lost one. */
  close() {
    if (this.readyState === CONNECTING || this.readyState === OPEN) {
      this.readyState = CLOSING
      this._connection.dropSocket()
    }
  }

  addEventListener(name, listener) {
    this._listen(name, listener, false)
  }

  removeEventListener(name, listener) {
    this._unlisten(name, listener)
  }

  on(name, listener) {
    this._listen(name, listener, true)
    return this
  }

  off(name, listener) {
    this._unlisten(name, listener)
    return this
  }

  /** `nodeStyle`: called with the event's fields as arguments, as `ws`' `on` does. */
  _listen(name, fn, nodeStyle) {
    if (!NAMES.includes(name) || typeof fn !== 'function') return
    if (!this._listeners) this._listeners = { open: [], message: [], close: [] }
    this._listeners[name].push({ fn, nodeStyle })
  }

  _unlisten(name, fn) {
    const list = this._listeners && this._listeners[name]
    const at = list ? list.findIndex((entry) => entry.fn === fn) : -1
    if (at >= 0) list.splice(at, 1)
  }

  /** Someone listens to `message`: frames must be shown to {@link observe}. */
  get _listening() {
    return this._listeners !== null && this._listeners.message.length > 0
  }

  /**
   * Follows one engine event or frame of its connection; `false`, since the engine's
   * own handling of `item` goes on (the foreign driver's `observe` has this shape too).
   */
  observe(connection, item) {
    switch (item.$) {
      case undefined:
        this._emit('message', { type: 'message', data: JSON.stringify(item) })
        break
      case 'connecting':
        this.readyState = CONNECTING
        break
      case 'socket-open':
        this.readyState = OPEN
        this._emit('open', { type: 'open' })
        break
      case 'close':
        this.readyState = CLOSED
        this._emit('close', { type: 'close', code: item.code, reason: item.reason })
    }
    return false
  }

  _emit(name, event) {
    if (!this._listeners) return
    for (const { fn, nodeStyle } of this._listeners[name].slice()) {
      if (!nodeStyle) fn.call(this, event)
      else if (name === 'message') fn.call(this, event.data)
      else if (name === 'close') fn.call(this, event.code, event.reason)
      else fn.call(this)
    }
  }
}

module.exports = { NativeSocket, CONNECTING, OPEN, CLOSING, CLOSED }
