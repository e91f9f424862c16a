'use strict'
// Drives JS WebSockets of the class given to `realtime.config({WebSocket})` on
// behalf of the native engine: it asks (`ws-connect`, `ws-send`, `ws-close`), and
// the socket's events go back to it, tagged with the socket's number.
//
// After `close()` (`stop`), a socket still connecting is closed at once and no new one
// is opened: the engine is ending, and a handshake it no longer waits for would keep
// the socket, the server's connection and Node alive. An open socket is left to the
// engine, which sends `session close` on it and then closes it.
//
// Each new socket is handed to `onSocket`, so that `rt.cache.ws` is the user's own
// instance, as in 2.4.0; closing it makes the engine reconnect, as after a lost socket.
//
// A class that misbehaves gets `error` events, never an uncaught exception: a `send`
// or `close` that throws is reported (a throwing `close` counts as closed), a socket
// without `readyState` is sent to as 2.4.0 does, and one that never fires `close`
// after being asked to counts as closed after 5 s. Either way its `terminate()` is
// called where it has one (as `ws` does), so that its socket does not outlive it.

const CONNECTING = 0
const OPEN = 1
/** How long a socket asked to close may take to fire `close` before it counts as closed. */
const CLOSE_GRACE_MS = 5000

const messageOf = (err) => String((err && err.message) || err)

function driver(WebSocket, onSocket) {
  const sockets = new Map()
  let stopped = false

  function connect(native, id, url) {
    if (stopped) return
    try {
      const ws = new WebSocket(url)
      sockets.set(id, ws)
      listen(native, id, ws)
      onSocket(ws)
    } catch (err) {
      sockets.delete(id)
      native.foreignError(id, messageOf(err))
    }
  }

  function listen(native, id, ws) {
    ws.addEventListener('open', () => {
      if (stopped) close(native, id, ws)
      else native.foreignOpen(id)
    })
    ws.addEventListener('message', (event) => native.foreignMessage(id, String(event.data)))
    ws.addEventListener('error', (event) => {
      // Closing a handshake after close() is no error of the user's.
      if (!stopped) native.foreignError(id, String((event && event.message) || 'error'))
    })
    ws.addEventListener('close', (event) => closed(native, id, (event && event.code) || 1006, (event && event.reason) || ''))
  }

  /** Reports socket `id` closed, once. */
  function closed(native, id, code, reason) {
    if (!sockets.has(id)) return
    sockets.delete(id)
    native.foreignClose(id, code, reason)
  }

  function send(native, id, ws, text) {
    // 2.4.0 sends without looking when the class has no readyState.
    if (ws.readyState !== OPEN && ws.readyState !== undefined) return
    try {
      ws.send(text)
    } catch (err) {
      native.foreignError(id, 'WebSocket send failed: ' + messageOf(err))
    }
  }

  function close(native, id, ws) {
    try {
      ws.close()
    } catch (err) {
      terminate(ws)
      return closed(native, id, 1006, 'WebSocket close failed: ' + messageOf(err))
    }
    const timer = setTimeout(() => {
      if (!sockets.has(id)) return
      terminate(ws)
      closed(native, id, 1006, 'no close event')
    }, CLOSE_GRACE_MS)
    if (timer.unref) timer.unref()
  }

  /** The last resort of a class whose `close` failed: `terminate()`, where it has one. */
  function terminate(ws) {
    try {
      if (typeof ws.terminate === 'function') ws.terminate()
    } catch (_) {}
  }

  return {
    /** Frames are not the driver's business. */
    _listening: false,

    /** Carries out the engine's `ws-*` commands; `true` when `item` was one. */
    observe(native, item) {
      const ws = sockets.get(item.socket)
      switch (item.$) {
        case 'ws-connect':
          connect(native, item.socket, item.url)
          return true
        case 'ws-send':
          if (ws) send(native, item.socket, ws, item.text)
          return true
        case 'ws-close':
          if (ws) close(native, item.socket, ws)
          return true
      }
      return false
    },

    /** `close()` was called: see above. */
    stop(native) {
      stopped = true
      for (const [id, ws] of sockets) {
        if (ws.readyState === CONNECTING) close(native, id, ws)
      }
    },
  }
}

module.exports = { driver }
