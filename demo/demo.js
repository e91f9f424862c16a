'use strict'
// `npm start`: alice and bob talk through a local leanrt-server with the leanrt client.
// The code below the set-up is plain leancloud-realtime 2.4.0 API; only `router` (or the
// LEANRT_ROUTER environment variable) points it at our server.
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const { startServer } = require('./start-server')

const APP_ID = 'demo-app'

function loadLeanrt() {
  try {
    return require('..')
  } catch (err) {
    console.error(`The leanrt addon could not be loaded: ${err.message}`)
    console.error('The demo needs both the addon and leanrt-server; see the status table in README.md.')
    process.exit(1)
  }
}

/** Wraps a 2.4.0-style callback API call into a promise. */
const call = (fn) => new Promise((resolve) => fn(resolve))

function connect(realtime, router, clientId) {
  return new Promise((resolve) => {
    const rt = realtime({ appId: APP_ID, clientId, router }, () => resolve(rt))
    for (const name of ['invited', 'membersjoined', 'receipt', 'close', 'reuse', 'error']) {
      rt.on(name, (data) => console.log(`  [${clientId}] event ${name}`, data === undefined ? '' : JSON.stringify(data)))
    }
  })
}

async function main() {
  const realtime = loadLeanrt()
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'leanrt-demo-'))
  const db = path.join(dir, 'demo.db')
  const server = await startServer({ db, args: ['--app', APP_ID, '--log', 'warn'] })
  console.log(`leanrt-server is listening on ${server.url}, data file ${db}`)

  try {
    const alice = await connect(realtime, server.url, 'alice')
    const bob = await connect(realtime, server.url, 'bob')
    console.log('alice and bob are online')

    const bobGotAll = new Promise((resolve) => {
      let n = 0
      bob.on('message', (m) => {
        console.log(`  [bob] message from ${m.fromPeerId}:`, JSON.stringify(m.msg))
        if (++n === 2) resolve()
      })
    })
    const receipt = new Promise((resolve) => alice.once('receipt', resolve))

    const room = await call((cb) => alice.room({ name: 'alice & bob', members: ['bob'] }, cb))
    console.log(`alice created conversation ${room.id}`)

    const ack1 = await call((cb) => room.send('Hello Bob!', { receipt: true }, cb))
    console.log(`alice sent a text, acked as ${ack1.uid}`)
    const ack2 = await call((cb) =>
      room.send(
        { text: 'a picture', url: 'https://example.com/cat.png', objectId: 'file1', metaData: { name: 'cat.png', format: 'png', width: 640, height: 480, size: 52100 } },
        { type: 'image' },
        cb,
      ),
    )
    console.log(`alice sent an image, acked as ${ack2.uid}`)
    await bobGotAll
    const rcp = await receipt
    console.log(`alice got a receipt for ${rcp.id}`)

    const history = await call((cb) => bob.room(room.id, (r) => r.log({ limit: 10 }, cb)))
    console.log('history, oldest first:')
    for (const item of history) console.log(`  ${new Date(item.timestamp).toISOString()} ${item.fromPeerId}:`, JSON.stringify(item.msg))

    alice.close()
    bob.close()
  } finally {
    const code = await server.stop()
    console.log(`leanrt-server stopped (exit code ${code})`)
    fs.rmSync(dir, { recursive: true, force: true })
  }
}

main().catch((err) => {
  console.error(err)
  process.exit(1)
})
