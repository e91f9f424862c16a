'use strict'
// docs/deploy.md's commands, run as written, with this run's own values put in: free
// ports for `0.0.0.0:PORT`, a temporary file for /var/lib/leanrt/leanrt.db, a new
// database for postgres://leanrt@db.internal:5432/leanrt, and for the cluster the
// `export` lines' variables (PostgreSQL, Redis, the load balancer). One node on a file
// gets a message from the original 2.4.0 SDK; `migrate` moves it to PostgreSQL; a node
// there gives it back; then two nodes behind a TCP load balancer (WebSocket
// connections to the nodes in turn) carry a message from a 2.4.0 client on one to a
// 2.4.0 client on the other. Runs with LEANRT_TEST_PG and LEANRT_TEST_REDIS.
const { test, after } = require('node:test')
const assert = require('node:assert/strict')
const { spawn } = require('node:child_process')
const fs = require('node:fs')
const net = require('node:net')
const path = require('node:path')

const { binaryPath } = require('./helpers/server')
const { originalFactory, closeAll } = require('./helpers/original')

const PG = process.env.LEANRT_TEST_PG
const REDIS = process.env.LEANRT_TEST_REDIS
const skip = !(PG && REDIS) && 'needs LEANRT_TEST_PG and LEANRT_TEST_REDIS'
const children = []
const balancers = []

after(async () => {
  await closeAll()
  for (const child of children) child.kill('SIGKILL')
  for (const lb of balancers) lb.close()
})

const DOC_FILE = '/var/lib/leanrt/leanrt.db'
const DOC_DB = 'postgres://leanrt@db.internal:5432/leanrt'

/** The lines of docs/deploy.md's deploy-test block `name`. */
function documented (name) {
  const doc = fs.readFileSync(path.join(__dirname, '..', 'docs', 'deploy.md'), 'utf8')
  const block = new RegExp(`<!-- deploy-test ${name} -->\\s*\`\`\`sh\\n([\\s\\S]*?)\`\`\`\\s*<!-- /deploy-test -->`).exec(doc)
  assert.ok(block, `docs/deploy.md has its deploy-test ${name} block`)
  return block[1].trim().split('\n')
}

/** The arguments of a documented `leanrt-server` line, with this run's values. */
function localized (line, values) {
  assert.match(line, /^leanrt-server /)
  return line.split(/\s+/).slice(1).map((arg) => {
    if (/^0\.0\.0\.0:\d+$/.test(arg)) return '127.0.0.1:0'
    return values[arg] ?? arg
  })
}

/** Starts one node; resolves with its port. */
function startNode (args, env) {
  return new Promise((resolve, reject) => {
    const child = spawn(binaryPath(), args, { env: Object.assign({}, process.env, env), stdio: ['ignore', 'pipe', 'pipe'] })
    children.push(child)
    let out = ''
    let err = ''
    const timer = setTimeout(() => reject(new Error(`node did not start: ${err}`)), 15000)
    child.stderr.on('data', (d) => { err += d })
    child.stdout.on('data', (d) => {
      out += d
      const m = /listening on http:\/\/[^:]+:(\d+)/.exec(out)
      if (m) {
        clearTimeout(timer)
        resolve(Number(m[1]))
      }
    })
    child.on('exit', (code) => reject(new Error(`node exited with ${code}: ${err}`)))
  })
}

/** A TCP load balancer: HTTP requests and WebSocket connections each go to the
 * nodes in turn. Records the node of every WebSocket. */
async function balancer (port, ports) {
  const turns = { http: 0, ws: 0 }
  const sockets = []
  const lb = net.createServer((inbound) => {
    inbound.once('data', (first) => {
      const kind = /upgrade:\s*websocket/i.test(first.toString('latin1')) ? 'ws' : 'http'
      const to = ports[turns[kind]++ % ports.length]
      if (kind === 'ws') sockets.push(to)
      const upstream = net.connect(to, '127.0.0.1', () => {
        upstream.write(first)
        inbound.pipe(upstream).pipe(inbound)
      })
      const end = () => { inbound.destroy(); upstream.destroy() }
      inbound.on('error', end)
      upstream.on('error', end)
    })
  })
  await new Promise((resolve) => lb.listen(port, '127.0.0.1', resolve))
  balancers.push(lb)
  return { port: lb.address().port, sockets }
}

const opened = (rt, options) => new Promise((resolve) => {
  const client = rt(options, () => resolve(client))
})

const tmp = fs.mkdtempSync(path.join(require('node:os').tmpdir(), 'leanrt-deploy-'))
after(() => fs.rmSync(tmp, { recursive: true, force: true }))
const values = {
  [DOC_FILE]: path.join(tmp, 'leanrt.db'),
  [DOC_DB]: `${(PG || '').replace(/\/+$/, '')}/deploy_${process.pid}_single`,
}

test('docs/deploy.md: one node on a file, migrated to PostgreSQL, served from there', { skip, timeout: 60000 }, async () => {
  const [single] = documented('one-node')
  const port = await startNode(localized(single, values), {})
  const rt = originalFactory(`http://127.0.0.1:${port}`)
  const alice = await opened(rt, { appId: 'my-app', clientId: 'deploy1-alice' })
  const room = await new Promise((resolve) => alice.room({ members: ['deploy1-bob'] }, resolve))
  await new Promise((resolve) => room.send('kept across the move', resolve))
  await closeAll()
  // The file is migrated with its server stopped.
  const first = children.pop()
  await new Promise((resolve) => {
    first.once('exit', resolve)
    first.kill('SIGTERM')
  })

  const [migrate] = documented('migrate')
  const out = require('node:child_process').execFileSync(binaryPath(), localized(migrate, values), { encoding: 'utf8' })
  assert.match(out, /^migrated 1 conversations, 1 messages and 2 member cursors;/)

  const [onPostgres] = documented('postgres-node')
  const pgPort = await startNode(localized(onPostgres, values), {})
  const bob = await new Promise((resolve) => {
    const client = originalFactory(`http://127.0.0.1:${pgPort}`)({ appId: 'my-app', clientId: 'deploy1-bob' })
    client.on('message', (m) => resolve(m))
  })
  assert.equal(bob.msg, 'kept across the move')
  await closeAll()
})

test('docs/deploy.md: two nodes on one PostgreSQL and one Redis behind a load balancer', { skip, timeout: 60000 }, async () => {
  const lines = documented('cluster')
  const exports = lines.filter((l) => l.startsWith('export ')).map((l) => /^export (\w+)=/.exec(l)[1])
  const nodes = lines.filter((l) => l.startsWith('leanrt-server '))
  assert.deepEqual(exports, ['LEANRT_DB', 'LEANRT_REDIS', 'LEANRT_APP', 'LEANRT_PUBLIC_URL'])
  assert.equal(nodes.length, 2)
  // The balancer's port must be known before the nodes start (their router hands it
  // out): take one, then start the balancer on it.
  const probe = net.createServer()
  await new Promise((resolve) => probe.listen(0, '127.0.0.1', resolve))
  const lbPort = probe.address().port
  await new Promise((resolve) => probe.close(resolve))
  const env = {
    LEANRT_DB: `${PG.replace(/\/+$/, '')}/deploy_${process.pid}`,
    LEANRT_REDIS: REDIS,
    LEANRT_APP: 'my-app',
    LEANRT_PUBLIC_URL: `ws://127.0.0.1:${lbPort}/`,
  }
  const ports = []
  for (const line of nodes) ports.push(await startNode(localized(line, values), env))
  const lb = await balancer(lbPort, ports)

  const rt = originalFactory(`http://127.0.0.1:${lbPort}`)
  const alice = await opened(rt, { appId: 'my-app', clientId: 'deploy-alice' })
  const bob = await opened(rt, { appId: 'my-app', clientId: 'deploy-bob' })
  assert.deepEqual(lb.sockets, ports, 'one client on each node')
  const got = new Promise((resolve) => bob.on('message', (m) => resolve(m)))
  const room = await new Promise((resolve) => alice.room({ members: ['deploy-bob'] }, resolve))
  await new Promise((resolve) => room.send('across the nodes', resolve))
  const m = await got
  assert.equal(m.msg, 'across the nodes')
  assert.equal(m.fromPeerId, 'deploy-alice')
  const online = await new Promise((resolve) => alice.ping(['deploy-bob'], resolve))
  assert.deepEqual(online, ['deploy-bob'])
})
