'use strict'
// Going through an HTTP proxy, as the README shows: `ws` 8 injected with
// `realtime.config({WebSocket})`, subclassed to pass an `https-proxy-agent`, and the
// WebSocket URL given as `server` (the router lookup is not made). The proxy is a
// real HTTP CONNECT proxy in this process; it must see the tunnel, and the client
// must chat through it.
const { test, before, after } = require('node:test')
const assert = require('node:assert/strict')
const http = require('node:http')
const net = require('node:net')

const { startServer, stopAll } = require('./helpers/server')
const { runNode } = require('./leanrt-common')

const APP = 'leanrtProxy'
let srv
let proxy
const tunnels = []

before(async () => {
  srv = await startServer({ app: APP })
  proxy = http.createServer((req, res) => res.writeHead(405).end())
  proxy.on('connect', (req, socket, head) => {
    tunnels.push(req.url)
    const [host, port] = req.url.split(':')
    const upstream = net.connect(Number(port), host, () => {
      socket.write('HTTP/1.1 200 Connection Established\r\n\r\n')
      upstream.write(head)
      socket.pipe(upstream).pipe(socket)
    })
    const end = () => { socket.destroy(); upstream.destroy() }
    socket.on('error', end)
    upstream.on('error', end)
  })
  await new Promise((resolve) => proxy.listen(0, '127.0.0.1', resolve))
})
after(async () => {
  proxy.close()
  await stopAll()
})

test('an injected ws with a proxy agent chats through an HTTP CONNECT proxy', { timeout: 30000 }, async () => {
  const script = `
    const realtime = require('.')
    const WebSocket = require('ws')
    const { HttpsProxyAgent } = require('https-proxy-agent')
    const agent = new HttpsProxyAgent('http://127.0.0.1:${proxy.address().port}')
    class ProxiedWebSocket extends WebSocket {
      constructor (url, protocols) { super(url, protocols, { agent }) }
    }
    realtime.config({ WebSocket: ProxiedWebSocket })
    const server = 'ws://127.0.0.1:${srv.port}/'
    const a = realtime({ appId: '${APP}', clientId: 'proxy-a', server }, () => {
      const b = realtime({ appId: '${APP}', clientId: 'proxy-b', server }, () => {
        b.on('message', (m) => {
          console.log('got ' + m.msg)
          a.close(); b.close()
        })
        a.room({ members: ['proxy-b'] }, (room) => room.send('through the proxy', () => console.log('acked')))
      })
    })
    a.on('error', (e) => console.log('error ' + e.message))`
  const r = await runNode(script, { LEANRT_SERVER: '', LEANRT_ROUTER: '' })
  assert.equal(r.code, 0, r.stderr)
  assert.match(r.stdout, /acked/)
  assert.match(r.stdout, /got through the proxy/)
  assert.doesNotMatch(r.stdout, /error/)
  // Both clients' sockets went through the proxy, to the server.
  assert.deepEqual(tunnels, [`127.0.0.1:${srv.port}`, `127.0.0.1:${srv.port}`])
})
