'use strict'
// `leanrt-server migrate` with the original 2.4.0 SDK on both sides: a deployment on
// an SQLite file gets history (a message owed to an offline member included), the
// file is copied into PostgreSQL, and a server on PostgreSQL gives 2.4.0 the same
// history, frame for frame, and the same owed message at login. Runs with
// LEANRT_TEST_PG (npm test's PostgreSQL pass).
const { test, after } = require('node:test')
const assert = require('node:assert/strict')
const { execFileSync } = require('node:child_process')
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')

const { startServer, stopAll, binaryPath } = require('./helpers/server')
const { originalFactory, closeAll } = require('./helpers/original')

const PG = process.env.LEANRT_TEST_PG
const APP = 'migratePgApp'
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'leanrt-migrate-pg-'))

after(async () => {
  await closeAll()
  await stopAll()
  fs.rmSync(tmp, { recursive: true, force: true })
})

function call (what, fn, ms = 10000) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${what}: no callback in ${ms} ms`)), ms)
    fn((v) => { clearTimeout(timer); resolve(v) })
  })
}

/** The `logs` frames 2.4.0 received, in order. */
const logFrames = (client) => (client.cache.rawIn || []).map((t) => JSON.parse(t)).filter((f) => f.cmd === 'logs').map((f) => f.logs)

async function readHistory (srv, cid) {
  const rt = originalFactory(srv.routerUrl)
  const alice = await call('open', (cb) => { const c = rt({ appId: APP, clientId: 'mpg-alice' }, () => cb(c)) })
  const room = await call('room', (cb) => alice.room(cid, cb))
  const page = await call('log', (cb) => room.log({ limit: 100 }, cb))
  return { page, frames: logFrames(alice) }
}

test('2.4.0 reads the same history, and gets the same owed message, after migrate', { skip: !PG && 'needs LEANRT_TEST_PG', timeout: 60000 }, async () => {
  const file = path.join(tmp, 'leanrt.db')
  let srv = await startServer({ app: APP, dbPath: file })
  const rt = originalFactory(srv.routerUrl)
  const alice = await call('open', (cb) => { const c = rt({ appId: APP, clientId: 'mpg-alice' }, () => cb(c)) })
  const room = await call('room', (cb) => alice.room({ members: ['mpg-bob'], name: 'moving' }, cb))
  for (const text of ['one', 'two', 'three']) {
    await call('send', (cb) => room.send(text, cb))
  }
  await closeAll()
  const before = await readHistory(srv, room.id)
  assert.deepEqual(before.page.map((m) => m.msg), ['one', 'two', 'three'])
  await closeAll()
  await srv.stop()

  const db = `${PG.replace(/\/+$/, '')}/migrate_${process.pid}`
  const out = execFileSync(binaryPath(), ['migrate', '--from', file, '--to', db], { encoding: 'utf8' })
  assert.equal(out.trim(), 'migrated 1 conversations, 3 messages and 2 member cursors; 0 conversations were in the database already')

  srv = await startServer({ app: APP, dbPath: db })
  const afterMove = await readHistory(srv, room.id)
  assert.deepEqual(afterMove.frames, before.frames, 'the same logs frames')
  await closeAll()
  // Bob never logged in: all three are owed to him, oldest first.
  const bobRt = originalFactory(srv.routerUrl)
  const owed = []
  await call('bob', (cb) => {
    const bob = bobRt({ appId: APP, clientId: 'mpg-bob' })
    bob.on('message', (m) => {
      owed.push(m.msg)
      if (owed.length === 3) cb()
    })
  })
  assert.deepEqual(owed, ['one', 'two', 'three'])
})
