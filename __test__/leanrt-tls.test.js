'use strict'
// The native transport over TLS: an https router lookup and a wss:// socket (native-tls),
// through a TLS-terminating proxy in front of a real leanrt-server. The certificate is
// self-signed and trusted only by the child process, through SSL_CERT_FILE.
const { test, before, after } = require('node:test')
const assert = require('node:assert/strict')
const { execFileSync } = require('node:child_process')
const fs = require('node:fs')
const net = require('node:net')
const os = require('node:os')
const path = require('node:path')
const tls = require('node:tls')

const { startServer, stopAll } = require('./helpers/server')
const { runNode } = require('./leanrt-common')

const APP = 'leanrtTls'
const T = { timeout: 30000 }
let dir
let proxy
let srv

/** A self-signed certificate for localhost and 127.0.0.1. */
function certificate() {
  const key = path.join(dir, 'key.pem')
  const cert = path.join(dir, 'cert.pem')
  execFileSync('openssl', [
    'req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', '/CN=localhost',
    '-addext', 'subjectAltName=DNS:localhost,IP:127.0.0.1', '-keyout', key, '-out', cert,
  ], { stdio: 'ignore' })
  return { key: fs.readFileSync(key), cert: fs.readFileSync(cert), certFile: cert }
}

before(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'leanrt-tls-'))
  const { key, cert } = certificate()
  proxy = tls.createServer({ key, cert }, (socket) => {
    const upstream = net.connect(srv.port, '127.0.0.1')
    socket.pipe(upstream).pipe(socket)
    const end = () => { socket.destroy(); upstream.destroy() }
    socket.on('error', end)
    upstream.on('error', end)
  })
  await new Promise((resolve) => proxy.listen(0, '127.0.0.1', resolve))
  // The router hands out the proxy's wss:// URL.
  srv = await startServer({ app: APP, args: ['--public-url', `wss://localhost:${proxy.address().port}/`] })
})
after(async () => {
  proxy.close()
  await stopAll()
  fs.rmSync(dir, { recursive: true, force: true })
})

test('https router and wss:// socket: open, ping, close; untrusted certificates are refused', T, async () => {
  const router = `https://localhost:${proxy.address().port}`
  const script = `const realtime = require('.')
    const rt = realtime({ appId: '${APP}', clientId: 'tls1', router: '${router}' }, () => {
      rt.ping('tls1', (online) => {
        console.log('online ' + JSON.stringify(online))
        rt.close()
      })
    })
    rt.on('error', (e) => console.log('error ' + e.message))`
  const trusted = await runNode(script, { SSL_CERT_FILE: path.join(dir, 'cert.pem'), SSL_CERT_DIR: dir, LEANRT_SERVER: '', LEANRT_ROUTER: '' })
  assert.equal(trusted.code, 0, trusted.stderr)
  assert.match(trusted.stdout, /online \["tls1"\]/)
  assert.doesNotMatch(trusted.stdout, /error/)

  // Without the certificate in its trust store, the lookup fails with an error event, the
  // client never opens, and Node still exits by itself.
  const untrusted = await runNode(script.replace("'tls1'", "'tls2'"), { SSL_CERT_FILE: path.join(dir, 'none.pem'), SSL_CERT_DIR: path.join(dir, 'none'), LEANRT_SERVER: '', LEANRT_ROUTER: '' }, 15000)
  assert.equal(untrusted.code, 0, untrusted.stderr)
  assert.match(untrusted.stdout, /error router .*TLS/)
  assert.doesNotMatch(untrusted.stdout, /online/)
})
