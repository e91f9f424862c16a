'use strict'
// Fault (issue 6, 1a): leanrt-server is SIGKILLed in the middle of a burst of sends from
// three leanrt clients and restarted on the same db file; the clients reconnect by
// themselves. Asserts: every message whose ack callback fired is in `log`, every other
// member eventually receives every acked message (live, or offline on reconnect), `open`
// fired again on every client, and no uncaught exception happened.
//
// Scale: each client sends BURST messages, one every GAP ms, into its own conversation
// (the other two are members); the kill lands mid-burst.
const { test, before, after } = require('node:test')
const assert = require('node:assert/strict')

process.env.LEANRT_RECONNECT_DELAY_MS = process.env.LEANRT_RECONNECT_DELAY_MS || '200'

const realtime = require('..')
const { startServer, stopAll } = require('./helpers/server')
const { cb, sleep, until } = require('./leanrt-common')

const APP = 'faultKill'
const T = { timeout: 60000 }

let srv
const uncaught = []
function onUncaught(e) {
  uncaught.push(e)
}

before(async () => {
  process.on('uncaughtException', onUncaught)
  srv = await startServer({ app: APP })
})
after(async () => {
  process.off('uncaughtException', onUncaught)
  await stopAll()
})

// BURST messages per client GAP ms apart; the kill lands at KILL_AT of the burst.
async function killMidBurst(names, BURST, GAP, KILL_AT, deliveryWait = 15000) {
  const peers = {}
  for (const name of names) {
    const p = { name, opens: 0, errors: [], got: new Map(), acked: new Map(), failedAcks: [], sent: 0 }
    p.rt = await cb((done) => {
      const rt = realtime({ appId: APP, clientId: name, router: srv.routerUrl }, () => done(rt))
    }, 10000, `open ${name}`)
    p.rt.on('open', () => p.opens++)
    p.rt.on('error', (e) => p.errors.push(e && e.message))
    p.rt.on('message', (m) => p.got.set(m.msg, (p.got.get(m.msg) || 0) + 1))
    peers[name] = p
  }
  try {
    for (const name of names) {
      const others = names.filter((n) => n !== name)
      peers[name].room = await cb((done) => peers[name].rt.room({ name: 'burst-' + name, members: others }, done))
    }
    await sleep(200)

    // The burst: every client sends BURST messages GAP ms apart; the server dies mid-way.
    const sending = names.map(async (name) => {
      const p = peers[name]
      for (let n = 0; n < BURST; n++) {
        const text = `${name}-${n}`
        p.room.send(text, (ack) => {
          if (ack && ack.uid && ack.code === undefined) p.acked.set(text, ack.uid)
          else p.failedAcks.push({ text, ack })
        })
        p.sent++
        await sleep(GAP)
      }
    })
    await sleep(BURST * GAP * KILL_AT)
    const killed = await srv.kill('SIGKILL')
    assert.equal(killed.signal, 'SIGKILL')
    await sleep(150)
    await srv.restart({ samePortOnly: true })
    await Promise.all(sending)

    // Every client reconnects by itself.
    await until(() => names.every((n) => peers[n].opens >= 1), 'open fired again on every client', 15000)

    // Acks of held sends come once the new session is open; wait until they settle.
    let last = -1
    let stableSince = Date.now()
    const total = () => names.reduce((s, n) => s + peers[n].acked.size, 0)
    await until(() => {
      const t = total()
      if (t !== last) {
        last = t
        stableSince = Date.now()
      }
      return t === names.length * BURST || Date.now() - stableSince > 1500
    }, 'acks to settle', 15000)

    // 1. Every acked message is in the log, with the acked id.
    for (const name of names) {
      const p = peers[name]
      const logs = await cb((done) => p.room.log({ limit: 1000 }, done), 5000, 'log')
      const byId = new Map(logs.map((l) => [l.msgId, l.msg]))
      for (const [text, uid] of p.acked) {
        assert.equal(byId.get(uid), text, `acked ${text} (${uid}) missing from the log of ${name}`)
      }
    }

    // 2. Every other member eventually gets every acked message.
    const missing = () => {
      const out = []
      for (const from of names) {
        for (const text of peers[from].acked.keys()) {
          for (const to of names) if (to !== from && !peers[to].got.has(text)) out.push(`${text}->${to}`)
        }
      }
      return out
    }
    try {
      await until(() => missing().length === 0, 'delivery of every acked message', deliveryWait)
    } catch (e) {
      assert.fail(`acked but never delivered: ${missing().join(', ')}`)
    }

    const ackedCount = total()
    const duplicates = names.reduce((s, n) => s + [...peers[n].got.values()].filter((c) => c > 1).length, 0)
    const unacked = names.map((n) => BURST - peers[n].acked.size)
    console.log(
      `# fault-kill ${BURST}x${GAP}ms: sent ${names.length * BURST}, acked ${ackedCount}, never acked ${unacked.join('/')}, ` +
        `lost 0, duplicates ${duplicates}, opens after restart ${names.map((n) => peers[n].opens).join('/')}, ` +
        `error acks ${names.reduce((s, n) => s + peers[n].failedAcks.length, 0)}`,
    )
    assert.ok(ackedCount > 0, 'some messages were acked')
    assert.deepEqual(uncaught.map((e) => e.stack), [], 'no uncaught exception')
  } finally {
    for (const name of names) {
      try {
        peers[name].rt.close()
      } catch (_) {}
    }
  }
}

test('SIGKILL mid-burst: acked messages are logged and delivered, open fires again', T, () =>
  killMidBurst(['ka', 'kb', 'kc'], Number(process.env.FAULT_BURST) || 40, Number(process.env.FAULT_GAP) || 10, 0.75),
)

// The same with a longer burst, so that more than 20 messages of one conversation are
// committed while a member is away: the server's offline push is not capped at
// LeanCloud's 20 per conversation by default (`--offline-per-conversation`, 1000), and a
// login gets every pending message exactly once (offline or live), so nothing is lost.
test('SIGKILL mid-burst, 100 messages per client 5 ms apart: no acked message is lost', T, () =>
  killMidBurst(['la', 'lb', 'lc'], 100, 5, 0.5, 5000),
)
