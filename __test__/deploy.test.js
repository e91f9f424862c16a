'use strict'
// docs/deploy.md's several-nodes commands, run as written: the `export` lines name the
// variables (given this run's PostgreSQL, Redis and load balancer), and the two
// `leanrt-server` lines start the nodes (on free ports instead of 8081 and 8082). A TCP
// load balancer in front sends WebSocket connections to the nodes in turn, so that the
// original 2.4.0 SDK's two clients land on different nodes, and they chat. Runs with
// LEANRT_TEST_PG and LEANRT_TEST_REDIS (npm test's PostgreSQL pass).
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

/** The commands between the deploy-test markers of docs/deploy.md. */
function documented () {
  const doc = fs.readFileSync(path.join(__dirname, '..', 'docs', 'deploy.md'), 'utf8')
  const block = /<!-- deploy-test[^>]*-->\s*```sh\n([\s\S]*?)```\s*<!-- \/deploy-test -->/.exec(doc)
  assert.ok(block, 'docs/deploy.md has its deploy-test block')
  const lines = block[1].trim().split('\n')
  const exports = lines.filter((l) => l.startsWith('export ')).map((l) => /^export (\w+)=/.exec(l)[1])
  const nodes = lines.filter((l) => l.startsWith('leanrt-server ')).map((l) => l.split(/\s+/).slice(1))
  return { exports, nodes }
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

test('docs/deploy.md: two nodes on one PostgreSQL and one Redis behind a load balancer', { skip, timeout: 60000 }, async () => {
  const { exports, nodes } = documented()
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
  for (const args of nodes) {
    const listen = args.indexOf('--listen')
    assert.ok(listen >= 0 && /^0\.0\.0\.0:\d+$/.test(args[listen + 1]), `a --listen address: ${args}`)
    const local = args.slice()
    local[listen + 1] = '127.0.0.1:0'
    ports.push(await startNode(local, env))
  }
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
