'use strict'
// The native transport over TLS: an https router lookup and a wss:// socket (native-tls),
// through a TLS-terminating proxy in front of a real leanrt-server. The proxy's
// certificate is signed by a throwaway CA, trusted only by the child processes: through
// SSL_CERT_FILE (OpenSSL's trust store), or NODE_EXTRA_CA_CERTS (as Node adds it).
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

/** A throwaway CA (ca.pem) and a certificate it signed for localhost and 127.0.0.1. */
function certificate() {
  const file = (name) => path.join(dir, name)
  const openssl = (...args) => execFileSync('openssl', args, { stdio: 'ignore' })
  openssl('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', '/CN=leanrt test CA',
    '-keyout', file('ca.key'), '-out', file('ca.pem'))
  openssl('req', '-newkey', 'rsa:2048', '-nodes', '-subj', '/CN=localhost', '-keyout', file('key.pem'), '-out', file('leaf.csr'))
  fs.writeFileSync(file('leaf.ext'), 'subjectAltName=DNS:localhost,IP:127.0.0.1\n')
  openssl('x509', '-req', '-in', file('leaf.csr'), '-CA', file('ca.pem'), '-CAkey', file('ca.key'), '-CAcreateserial',
    '-days', '1', '-extfile', file('leaf.ext'), '-out', file('cert.pem'))
  return { key: fs.readFileSync(file('key.pem')), cert: fs.readFileSync(file('cert.pem')) }
}

/** A child program that looks the proxy up over https, opens over wss:// and pings. */
function pingScript(clientId) {
  const router = `https://localhost:${proxy.address().port}`
  return `const realtime = require('.')
    const rt = realtime({ appId: '${APP}', clientId: '${clientId}', router: '${router}' }, () => {
      rt.ping('${clientId}', (online) => {
        console.log('online ' + JSON.stringify(online))
        rt.close()
      })
    })
    rt.on('error', (e) => console.log('error ' + e.message))`
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
  const script = pingScript('tls1')
  const trusted = await runNode(script, { SSL_CERT_FILE: path.join(dir, 'ca.pem'), SSL_CERT_DIR: dir, LEANRT_SERVER: '', LEANRT_ROUTER: '' })
  assert.equal(trusted.code, 0, trusted.stderr)
  assert.match(trusted.stdout, /online \["tls1"\]/)
  assert.doesNotMatch(trusted.stdout, /error/)

  // Without the certificate in its trust store, the lookup fails with an error event, the
  // client never opens, and Node still exits by itself.
  const untrusted = await runNode(pingScript('tls2'), { SSL_CERT_FILE: path.join(dir, 'none.pem'), SSL_CERT_DIR: path.join(dir, 'none'), LEANRT_SERVER: '', LEANRT_ROUTER: '' }, 15000)
  assert.equal(untrusted.code, 0, untrusted.stderr)
  assert.match(untrusted.stdout, /error router .*TLS/)
  assert.doesNotMatch(untrusted.stdout, /online/)
})

test('NODE_EXTRA_CA_CERTS is trusted on the native https and wss:// paths, as Node trusts it', T, async () => {
  const script = pingScript('tls3')
  const env = { SSL_CERT_FILE: undefined, SSL_CERT_DIR: undefined, NODE_EXTRA_CA_CERTS: undefined, LEANRT_SERVER: '', LEANRT_ROUTER: '' }
  const extra = await runNode(script, Object.assign({}, env, { NODE_EXTRA_CA_CERTS: path.join(dir, 'ca.pem') }))
  assert.equal(extra.code, 0, extra.stderr)
  assert.match(extra.stdout, /online \["tls3"\]/)
  assert.doesNotMatch(extra.stdout, /error/)
  // The system's store alone does not know the CA.
  const none = await runNode(script, env, 15000)
  assert.equal(none.code, 0, none.stderr)
  assert.match(none.stdout, /error router .*TLS/)
  // An unreadable file is ignored (with a warning, as Node gives), and the system's
  // store is used.
  const missing = await runNode(script, Object.assign({}, env, { NODE_EXTRA_CA_CERTS: path.join(dir, 'missing.pem') }), 15000)
  assert.equal(missing.code, 0, missing.stderr)
  assert.match(missing.stderr, /Ignoring extra certs from `.*missing\.pem`/)
  assert.match(missing.stdout, /error router .*TLS/)
})
