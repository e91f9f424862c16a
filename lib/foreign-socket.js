'use strict'
// Drives JS WebSockets of the class given to `realtime.config({WebSocket})` on
// behalf of the native engine: it asks (`ws-connect`, `ws-send`, `ws-close`), and
// the socket's events go back to it, tagged with the socket's number.

const OPEN = 1

function driver(WebSocket) {
  const sockets = new Map()

  function connect(native, id, url) {
    let ws
    try {
      ws = new WebSocket(url)
    } catch (err) {
      native.foreignError(id, String((err && err.message) || err))
      return
    }
    sockets.set(id, ws)
    ws.addEventListener('open', () => native.foreignOpen(id))
    ws.addEventListener('message', (event) => native.foreignMessage(id, String(event.data)))
    ws.addEventListener('error', (event) => native.foreignError(id, String((event && event.message) || 'error')))
    ws.addEventListener('close', (event) => {
      sockets.delete(id)
      native.foreignClose(id, (event && event.code) || 1006, (event && event.reason) || '')
    })
  }

  return {
    handle(native, item) {
      const ws = sockets.get(item.socket)
      switch (item.$) {
        case 'ws-connect':
          return connect(native, item.socket, item.url)
        case 'ws-send':
          if (ws && ws.readyState === OPEN) ws.send(item.text)
          return
        case 'ws-close':
          if (ws) ws.close()
      }
    },
  }
}

module.exports = { driver }
