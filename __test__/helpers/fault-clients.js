'use strict'
// A child process holding N leanrt clients for the fault tests (__test__/fault-*.test.js),
// so that uncaught exceptions and memory are those of the clients alone.
//
//   node __test__/helpers/fault-clients.js ROUTER_URL APP_ID N PREFIX
//
// Prints one JSON object per line on stdout; reads one JSON command per line on stdin:
//   {id, cmd: 'status'}        -> {id, connected, opens, closes, errors, rss, uncaught}
//   {id, cmd: 'send', text}    -> {id, acked: bool} (client 0 sends into the room of all N)
//   {id, cmd: 'count', text}   -> {id, counts: [times each client but 0 got `text`]}
//   {id, cmd: 'close'}         -> {id, closed: true}, then exits by itself
// First line: {ev: 'ready', cid} once every client is open and the room exists.
const readline = require('node:readline')
const realtime = require('../..')

const [router, appId, nArg, prefix] = process.argv.slice(2)
const N = Number(nArg)
let uncaught = 0
const uncaughtMessages = []
process.on('uncaughtException', (e) => {
  uncaught++
  if (uncaughtMessages.length < 5) uncaughtMessages.push(String((e && e.stack) || e))
})

function out(obj) {
  process.stdout.write(JSON.stringify(obj) + '\n')
}

const clients = []
let room = null

function make(i) {
  return new Promise((resolve) => {
    const c = { connected: false, opens: 0, closes: 0, errors: 0, got: new Map() }
    c.rt = realtime({ appId, clientId: `${prefix}${i}`, router }, () => resolve(c))
    c.rt.on('open', () => {
      c.connected = true
      c.opens++
    })
    c.rt.on('close', () => {
      c.connected = false
      c.closes++
    })
    c.rt.on('error', () => c.errors++)
    c.rt.on('message', (m) => c.got.set(m.msg, (c.got.get(m.msg) || 0) + 1))
    clients.push(c)
  })
}

async function main() {
  const made = []
  for (let i = 0; i < N; i++) made.push(make(i))
  await Promise.all(made)
  const members = []
  for (let i = 1; i < N; i++) members.push(`${prefix}${i}`)
  room = await new Promise((resolve) => clients[0].rt.room({ name: 'storm', members }, resolve))
  out({ ev: 'ready', cid: room.id })
}

readline.createInterface({ input: process.stdin }).on('line', (line) => {
  let req
  try {
    req = JSON.parse(line)
  } catch (_) {
    return
  }
  switch (req.cmd) {
    case 'status':
      out({
        id: req.id,
        connected: clients.filter((c) => c.connected).length,
        opens: clients.reduce((s, c) => s + c.opens, 0),
        closes: clients.reduce((s, c) => s + c.closes, 0),
        errors: clients.reduce((s, c) => s + c.errors, 0),
        rss: process.memoryUsage().rss,
        uncaught,
        uncaughtMessages,
      })
      break
    case 'send':
      room.send(req.text, (ack) => out({ id: req.id, acked: !!(ack && ack.uid), ack }))
      break
    case 'count': {
      const counts = []
      for (let i = 1; i < N; i++) counts.push(clients[i].got.get(req.text) || 0)
      out({ id: req.id, counts })
      break
    }
    case 'close':
      for (const c of clients) {
        try {
          c.rt.close()
        } catch (_) {}
      }
      out({ id: req.id, closed: true })
      process.stdin.destroy()
      break
  }
})

main().catch((e) => {
  out({ ev: 'fatal', message: String((e && e.stack) || e) })
  process.exit(2)
})
