'use strict'
// The sender of the `live` client measure, in a process of its own so that its CPU is
// not the receiver's:
//   node bench/live-sender.js ROUTER SENDER_ID CID,CID,... RATE_PER_CONVERSATION SECONDS
// Once logged in, it sends to the conversations in turn, evenly spaced, RATE messages a
// second to each, for SECONDS, then prints `SENT n`.
const realtime = require('..')

const [router, senderId, cidList, rateArg, secondsArg] = process.argv.slice(2)
const cids = cidList.split(',')
const perSecond = Number(rateArg) * cids.length

const rt = realtime({ appId: 'bench', clientId: senderId, router }, async () => {
  const rooms = await Promise.all(cids.map((cid) => new Promise((resolve) => rt.room(cid, resolve))))
  let sent = 0
  const started = Date.now()
  const until = started + Number(secondsArg) * 1000
  const tick = () => {
    // Catch up to the schedule: one message per 1/perSecond s, round robin.
    const due = Math.floor(((Date.now() - started) / 1000) * perSecond)
    while (sent < due) rooms[sent % rooms.length].send(`live ${sent++}`)
    if (Date.now() < until) setTimeout(tick, 1)
    else {
      console.log(`SENT ${sent}`)
      rt.close()
    }
  }
  tick()
})
