'use strict'
// Browser apps on the original v2 bundle: two headless Chromium pages load an unchanged
// leancloud-realtime 2.4.0 `dist/AV.realtime.js`, preceded by the one <script> tag of
// leanrt-server's /leanrt-shim.js, and chat through leanrt-server. The page and the
// bundle come from a static server on another port (another origin, as in production).
//
// Chromium is Debian's (/usr/bin/chromium, or LEANRT_CHROMIUM). Without it the test is
// skipped, unless LEANRT_REQUIRE_CHROMIUM=1 (set by .ci/run), where it fails instead.
const { test, before, after } = require('node:test')
const assert = require('node:assert/strict')
const fs = require('node:fs')
const http = require('node:http')
const path = require('node:path')

const { startServer, stopAll } = require('./helpers/server')
const { ROOT } = require('./leanrt-common')

const CHROMIUM = process.env.LEANRT_CHROMIUM || '/usr/bin/chromium'
const BUNDLE = path.join(ROOT, 'node_modules', 'leancloud-realtime', 'dist', 'AV.realtime.js')
const APP = 'browserApp'

let srv
let site
let browser

/** The chat page: the shim from leanrt-server, then the original bundle. */
function page (serverUrl) {
  return `<!doctype html>
<meta charset="utf-8">
<title>chat</title>
<script src="${serverUrl}/leanrt-shim.js"></script>
<script src="/AV.realtime.js"></script>
<ul id="log"></ul>
<script>
  window.events = []
  window.start = function (clientId, members) {
    return new Promise(function (resolve) {
      var rt = AV.realtime({ appId: '${APP}', clientId: clientId }, function () {
        rt.room({ name: 'browser', members: members }, function (room) {
          window.room = room
          resolve(room.id)
        })
      })
      rt.on('message', function (m) {
        window.events.push({ from: m.fromPeerId, msg: m.msg, cid: m.cid })
        var li = document.createElement('li')
        li.textContent = m.fromPeerId + ': ' + m.msg
        document.getElementById('log').appendChild(li)
      })
      window.rt = rt
    })
  }
  window.join = function (clientId, cid) {
    return new Promise(function (resolve) {
      var rt = AV.realtime({ appId: '${APP}', clientId: clientId }, function () {
        rt.room(cid, function (room) { window.room = room; resolve(room.id) })
      })
      rt.on('message', function (m) { window.events.push({ from: m.fromPeerId, msg: m.msg, cid: m.cid }) })
      window.rt = rt
    })
  }
  window.say = function (text) {
    return new Promise(function (resolve) { window.room.send(text, { receipt: true }, function (ack) { resolve(ack) }) })
  }
</script>`
}

before(async () => {
  if (!fs.existsSync(CHROMIUM)) return
  srv = await startServer({ app: APP })
  site = http.createServer((req, res) => {
    if (req.url === '/AV.realtime.js') {
      res.setHeader('Content-Type', 'application/javascript')
      res.end(fs.readFileSync(BUNDLE))
    } else {
      res.setHeader('Content-Type', 'text/html')
      res.end(page(srv.routerUrl))
    }
  })
  await new Promise((resolve) => site.listen(0, '127.0.0.1', resolve))
  const puppeteer = require('puppeteer-core')
  browser = await puppeteer.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage']
  })
})

after(async () => {
  if (browser) await browser.close()
  if (site) site.close()
  await stopAll()
})

async function open (problems) {
  const tab = await browser.newPage()
  tab.on('console', (m) => { if (m.type() === 'error' || m.type() === 'warn') problems.push(`console ${m.type()}: ${m.text()}`) })
  tab.on('pageerror', (e) => problems.push(`page error: ${e.message}`))
  tab.on('requestfailed', (r) => problems.push(`request failed: ${r.url()} ${r.failure() && r.failure().errorText}`))
  const requests = []
  tab.on('request', (r) => requests.push(r.url()))
  await tab.goto(`http://127.0.0.1:${site.address().port}/`, { waitUntil: 'load' })
  return { tab, requests }
}

async function until (what, check, ms = 10000) {
  const deadline = Date.now() + ms
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`${what}: not within ${ms} ms`)
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
}

test('two pages on the original 2.4.0 browser bundle chat through leanrt-server via /leanrt-shim.js', async (t) => {
  if (!browser) {
    if (process.env.LEANRT_REQUIRE_CHROMIUM === '1') assert.fail(`Chromium is required at ${CHROMIUM} (LEANRT_REQUIRE_CHROMIUM=1)`)
    t.skip(`no Chromium at ${CHROMIUM}`)
    return
  }
  const shim = await fetch(`${srv.routerUrl}/leanrt-shim.js`)
  assert.equal(shim.status, 200)
  assert.match(shim.headers.get('content-type'), /^application\/javascript/)

  const problems = []
  const alice = await open(problems)
  const bob = await open(problems)
  const cid = await alice.tab.evaluate(() => window.start('alice', ['bob']))
  assert.match(cid, /^[0-9a-f]{24}$/)
  assert.equal(await bob.tab.evaluate((id) => window.join('bob', id), cid), cid)

  const ack = await alice.tab.evaluate(() => window.say('hello from a browser'))
  assert.equal(typeof ack.t, 'number')
  await until('bob sees it', () => bob.tab.evaluate(() => window.events.length === 1))
  assert.deepEqual(await bob.tab.evaluate(() => window.events), [{ from: 'alice', msg: 'hello from a browser', cid }])
  await bob.tab.evaluate(() => window.say({ type: 'text', text: 'typed reply' }))
  await until('alice sees the reply', () => alice.tab.evaluate(() => window.events.length === 1))
  const reply = await alice.tab.evaluate(() => window.events[0])
  assert.deepEqual([reply.from, reply.cid, reply.msg.type, reply.msg.text], ['bob', cid, 'text', 'typed reply'])
  assert.equal(await alice.tab.evaluate(() => document.getElementById('log').textContent), 'bob: [object Object]')

  // The router requests went to leanrt-server; nothing went to LeanCloud.
  for (const { requests } of [alice, bob]) {
    assert.ok(requests.some((u) => u.startsWith(`${srv.routerUrl}/v1/route?`)), requests.join('\n'))
    assert.deepEqual(requests.filter((u) => /leancloud\.cn|lncld/.test(u)), [])
  }
  assert.deepEqual(problems, [])
})
