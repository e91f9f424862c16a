'use strict'
// LeanCloud's own server SDKs, unchanged, pointed at a real leanrt-server: npm
// `leancloud-storage` 4.15.2 (AV.Conversation, AV.Query on _Conversation) and PyPI
// `leancloud` 3.0.2 (Conversation, Query, Message history), in a child Python process.
// Online ORIGINAL 2.4.0 clients receive what the SDKs send.
//
// The Python SDK runs from target/pyvenv (made here when missing, with `python3 -m venv`
// and pip from PyPI). Without python3 the Python test is skipped, unless
// LEANRT_REQUIRE_PYTHON=1 (set by .ci/run), where it fails instead.
const { test, before, after } = require('node:test')
const assert = require('node:assert/strict')
const { spawn } = require('node:child_process')
const fs = require('node:fs')
const path = require('node:path')

const AV = require('leancloud-storage')
const { startServer, stopAll } = require('./helpers/server')
const { originalFactory, closeAll, assertNoUncaught } = require('./helpers/original')
const { ROOT, cb, until } = require('./leanrt-common')

const APP = 'sdkApp'
const KEY = 'sdk-master-key'
const MASTER = { useMasterKey: true }
const VENV = path.join(ROOT, 'target', 'pyvenv')
const PYTHON = path.join(VENV, 'bin', 'python')
const PY_SDK = 'leancloud==3.0.2'

let srv
let rt
let alice
let bob
const aliceGot = []
const bobGot = []

const call = (what, fn) => cb(fn, 10000, what)
const waitFor = (what, check) => until(check, what)

let py = null

before(async () => {
  // Before any socket opens: installing the Python SDK may take a minute.
  py = await python()
  srv = await startServer({ app: APP, args: ['--api-key', `${APP}:${KEY}`] })
  AV.init({ appId: APP, appKey: 'not-a-master-key', masterKey: KEY, serverURL: srv.routerUrl })
  rt = originalFactory(srv.routerUrl)
  await call('open alice', (cb) => { alice = rt({ appId: APP, clientId: 'alice' }, cb) })
  await call('open bob', (cb) => { bob = rt({ appId: APP, clientId: 'bob' }, cb) })
  alice.on('message', (m) => aliceGot.push(m))
  bob.on('message', (m) => bobGot.push(m))
})

after(async () => {
  await closeAll()
  await stopAll()
})

test('leancloud-storage: AV.Conversation save, send, query, count, get, members, destroy', async () => {
  const conv = new AV.Conversation('sdk room')
  conv.set('m', ['alice', 'bob'])
  conv.set('c', 'alice')
  conv.set('topic', 'ops')
  await conv.save(null, MASTER)
  assert.match(conv.id, /^[0-9a-f]{24}$/)
  assert.ok(conv.createdAt instanceof Date && !isNaN(conv.createdAt))

  // The 2.4.0 clients see it as theirs, and get what the SDK sends in a client's name.
  const found = await call('query', (cb) => alice.query({ where: { objectId: conv.id } }, cb))
  assert.deepEqual(found.map((c) => [c.objectId, c.m, c.name]), [[conv.id, ['alice', 'bob'], 'sdk room']])
  await conv.send('system', 'from leancloud-storage', {}, MASTER)
  await conv.send('system', { _lctype: -1, _lctext: 'typed' }, {}, MASTER)
  await waitFor('both clients get both', () => aliceGot.length === 2 && bobGot.length === 2)
  assert.deepEqual(bobGot.map((m) => [m.cid, m.fromPeerId, m.msg]), [
    [conv.id, 'system', 'from leancloud-storage'],
    [conv.id, 'system', { type: 'text', text: 'typed', attr: undefined }]
  ])
  const room = await call('room', (cb) => bob.room(conv.id, cb))
  const log = await call('log', (cb) => room.log({ limit: 10 }, cb))
  assert.deepEqual(log.map((m) => m.fromPeerId), ['system', 'system'], 'sent as stored messages (transient: false)')

  const byName = await new AV.Query('_Conversation').equalTo('name', 'sdk room').find(MASTER)
  assert.deepEqual(byName.map((c) => [c.id, c.get('topic'), c.get('m')]), [[conv.id, 'ops', ['alice', 'bob']]])
  const second = new AV.Conversation('another')
  second.set('m', ['bob'])
  await second.save(null, MASTER)
  assert.equal(await new AV.Query('_Conversation').count(MASTER), 2)
  assert.equal(await new AV.Query('_Conversation').containedIn('m', ['alice']).count(MASTER), 1)
  const [page, total] = await new AV.Query('_Conversation').ascending('name').limit(1).findAndCount(MASTER)
  assert.deepEqual([page.map((c) => c.get('name')), total], [['another'], 2])
  const got = await new AV.Query('_Conversation').get(conv.id, MASTER)
  assert.equal(got.get('c'), 'alice')
  assert.ok(got.get('lm') instanceof Date, 'lm is a Date after the sends')

  conv.addMember('carol')
  await conv.save(null, MASTER)
  conv.remove('m', 'bob')
  await conv.save(null, MASTER)
  const after = await new AV.Query('_Conversation').get(conv.id, MASTER)
  assert.deepEqual(after.get('m'), ['alice', 'carol'])
  after.set('topic', 'changed')
  await after.save(null, MASTER)
  assert.equal((await new AV.Query('_Conversation').get(conv.id, MASTER)).get('topic'), 'changed')

  await second.destroy(MASTER)
  await assert.rejects(new AV.Query('_Conversation').get(second.id, MASTER), (e) => e.code === 101)
  // Without the master key, the SDK signs with the app key: refused.
  await assert.rejects(new AV.Query('_Conversation').find(), (e) => e.code === 401)
  assertNoUncaught(assert)
})

/** Runs a command; resolves {code, out}. */
function exec (cmd, args, ms) {
  return new Promise((resolve) => {
    let out = ''
    let child
    try {
      child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] })
    } catch (e) {
      resolve({ code: -1, out: String(e) })
      return
    }
    const timer = setTimeout(() => child.kill('SIGKILL'), ms)
    child.stdout.on('data', (d) => { out += d })
    child.stderr.on('data', (d) => { out += d })
    child.on('error', (e) => { out += String(e) })
    child.on('close', (code) => { clearTimeout(timer); resolve({ code, out }) })
  })
}

/** The venv's python with the SDK installed (made on first use), or null without python3. */
async function python () {
  if (fs.existsSync(PYTHON)) return PYTHON
  const venv = await exec('python3', ['-m', 'venv', VENV], 120000)
  if (venv.code !== 0) return null
  const pip = await exec(path.join(VENV, 'bin', 'pip'), ['install', '-q', '--no-cache-dir', PY_SDK], 600000)
  if (pip.code !== 0) {
    fs.rmSync(VENV, { recursive: true, force: true })
    throw new Error(`pip install ${PY_SDK} failed:\n${pip.out}`)
  }
  return PYTHON
}

const PY_SCRIPT = `
import json, os, sys
import leancloud
leancloud.init(os.environ["APP"], app_key="not-a-master-key", master_key=os.environ["KEY"])
out = {}
conv = leancloud.Conversation("py room")
conv.set("m", ["alice", "bob"])
conv.save()
out["id"] = conv.id
conv.send("pybot", "from python")
conv.send("pybot", {"_lctype": -1, "_lctext": "py typed"})
msgs = leancloud.Message.find_by_conversation(conv.id, limit=10)
out["history"] = [[m.from_client, m.data if isinstance(m.data, str) else json.dumps(m.data, sort_keys=True)] for m in msgs]
older = leancloud.Message.find_by_conversation(conv.id, limit=10, reversed=True)
out["reversed"] = [m.message_id for m in older]
out["newest"] = [m.message_id for m in msgs]
q = leancloud.Query(leancloud.Conversation).equal_to("name", "py room")
out["found"] = [c.id for c in q.find()]
out["count"] = leancloud.Query(leancloud.Conversation).count()
got = leancloud.Query(leancloud.Conversation).get(conv.id)
out["members"] = got.get("m")
got.add_member("carol")
got.save()
out["after_add"] = leancloud.Query(leancloud.Conversation).get(conv.id).get("m")
out["find_all"] = [m.data for m in leancloud.Message.find_all(limit=2)]
out["by_client"] = [m.data for m in leancloud.Message.find_by_client("pybot", limit=10)]
got.destroy()
try:
    leancloud.Query(leancloud.Conversation).get(conv.id)
    out["after_destroy"] = "found"
except leancloud.LeanCloudError as e:
    out["after_destroy"] = e.code
print(json.dumps(out))
`

test('PyPI leancloud: Conversation save, send, history, query, count, members, destroy', async (t) => {
  if (!py) {
    if (process.env.LEANRT_REQUIRE_PYTHON === '1') assert.fail('python3 with venv is required (LEANRT_REQUIRE_PYTHON=1)')
    t.skip('python3 is not available')
    return
  }
  aliceGot.length = 0
  bobGot.length = 0
  const child = spawn(py, ['-c', PY_SCRIPT], {
    env: Object.assign({}, process.env, { APP, KEY, LEANCLOUD_API_SERVER: srv.routerUrl }),
    stdio: ['ignore', 'pipe', 'pipe']
  })
  let out = ''
  let err = ''
  child.stdout.on('data', (d) => { out += d })
  child.stderr.on('data', (d) => { err += d })
  const code = await new Promise((resolve) => child.on('exit', resolve))
  assert.equal(code, 0, err)
  const r = JSON.parse(out)
  assert.deepEqual(r.history, [['pybot', '{"_lctype": -1, "_lctext": "py typed"}'], ['pybot', 'from python']])
  assert.deepEqual(r.reversed, [...r.newest].reverse())
  assert.deepEqual(r.found, [r.id])
  assert.equal(r.count, 2, 'the JS test left one conversation, and this one')
  assert.deepEqual(r.members, ['alice', 'bob'])
  assert.deepEqual(r.after_add, ['alice', 'bob', 'carol'])
  assert.deepEqual(r.find_all, ['{"_lctype": -1, "_lctext": "py typed"}', 'from python'], 'the newest two of the app')
  assert.deepEqual(r.by_client, ['{"_lctype": -1, "_lctext": "py typed"}', 'from python'], 'what pybot sent, a non-member')
  assert.equal(r.after_destroy, 101)
  await waitFor('bob got both', () => bobGot.length === 2)
  assert.deepEqual(bobGot.map((m) => [m.cid, m.fromPeerId]), [[r.id, 'pybot'], [r.id, 'pybot']])
  assert.equal(bobGot[0].msg, 'from python')
  assertNoUncaught(assert)
})
