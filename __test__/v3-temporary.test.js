'use strict'
// Temporary conversations (`conv start` with `tempConv`), driven by LeanCloud's
// current JavaScript SDKs (5.0.0-rc.8 and 4.3.1) against a real leanrt-server, with a
// 2.4.0 member beside them: created with a ttl, messages live, offline and in the
// history, found by id from another client (`tempConvIds`), left out of `where`
// queries, and refused once expired (lazy expiry: 4303, which the SDKs show as 4323).
const { test, before, after } = require('node:test')
const assert = require('node:assert/strict')

const { startServer, stopAll } = require('./helpers/server')
const { originalFactory, closeAll, opened, call: v2Call } = require('./helpers/original')
const { SDKS } = require('./helpers/v3-sdks')
const { sleep, until } = require('./leanrt-common')

const T = { timeout: 60000 }
const HOUR = 3600

let srv
let v2

// 5.x refuses a second Realtime for an appId in a process: one app per test and
// client side.
const appOf = (sdk, flow, side) => `tmp${SDKS.indexOf(sdk)}${flow}${side}`
const APPS = SDKS.flatMap((sdk) => ['live', 'expiry'].flatMap((flow) =>
  ['alice', 'bob'].map((side) => appOf(sdk, flow, side))))

before(async () => {
  srv = await startServer({ app: APPS })
  v2 = originalFactory(srv.routerUrl)
})

after(async () => {
  await closeAll()
  await stopAll()
})

// A 2.4.0 client, opened.
const v2Client = (appId, clientId) => opened(v2, appId, clientId)

// Rejects unless `promise` rejects; resolves with the error.
async function refusal (promise, label) {
  try {
    await promise
  } catch (e) {
    return e
  }
  assert.fail(`${label} was not refused`)
}

// `at` (a Date) is `secs` seconds after `from` (ms), within the time the calls took.
function expiresAfter (at, from, secs, label) {
  assert.ok(at instanceof Date, `${label}: expiredAt is a Date`)
  const delta = at.getTime() - from - secs * 1000
  assert.ok(delta >= -1500 && delta <= 5000, `${label}: expiredAt ${at.toISOString()} is ${delta} ms off`)
}

for (const sdk of SDKS) {
  const { Realtime, TextMessage, Event, TemporaryConversation } = sdk.sdk

  test(`${sdk.name}: a temporary conversation lives its ttl, shared with 2.4.0`, T, async () => {
    const app = (side) => appOf(sdk, 'live', side)
    const p = app('alice') + '_'
    const [aliceId, bobId, carolId] = ['alice', 'bob', 'carol'].map((n) => p + n)
    const alice = await new Realtime(sdk.options(srv, app('alice'))).createIMClient(aliceId)
    const bob = await new Realtime(sdk.options(srv, app('bob'))).createIMClient(bobId)
    const bobGot = []
    bob.on(Event.MESSAGE, (m, conv) => bobGot.push({ m, conv }))
    const aliceGot = []
    alice.on(Event.MESSAGE, (m) => aliceGot.push(m))
    let carol = await v2Client(app('alice'), carolId)
    const carolGot = []
    carol.on('message', (m) => carolGot.push(m))

    const made = Date.now()
    const conv = await alice.createTemporaryConversation({ members: [bobId, carolId], ttl: HOUR })
    assert.ok(conv instanceof TemporaryConversation, 'a TemporaryConversation')
    assert.match(conv.id, /^_tmp:[\w-]{22}$/)
    assert.deepEqual(conv.members.slice().sort(), [aliceId, bobId, carolId])
    expiresAfter(conv.expiredAt, made, HOUR, 'created')
    assert.equal(conv.expired, false)

    // Live: the v3 peer gets it as a TemporaryConversation (found by tempConvIds).
    await conv.send(new TextMessage('temp hello'))
    await until(() => bobGot.length === 1 && carolGot.length === 1, 'bob and carol get it')
    assert.equal(bobGot[0].m.getText(), 'temp hello')
    assert.equal(bobGot[0].m.from, aliceId)
    assert.equal(bobGot[0].conv.id, conv.id)
    assert.ok(bobGot[0].conv instanceof TemporaryConversation)
    expiresAfter(bobGot[0].conv.expiredAt, made, HOUR, 'as bob got it')
    assert.equal(carolGot[0].cid, conv.id)
    assert.equal(carolGot[0].fromPeerId, aliceId)
    assert.deepEqual(JSON.parse(JSON.stringify(carolGot[0].msg)), { text: 'temp hello', type: 'text' })

    // 2.4.0 finds it by its id and sends into it.
    const room = await v2Call((cb) => carol.room(conv.id, cb))
    assert.ok(room, 'carol finds the room')
    await v2Call((cb) => room.send('carol here', cb))
    await until(() => aliceGot.length === 1 && bobGot.length === 2, 'alice and bob get carol')
    assert.equal(aliceGot[0].content, 'carol here')
    assert.equal(aliceGot[0].from, carolId)

    // Offline: carol away, then back.
    carol.close()
    await conv.send(new TextMessage('while you were away'))
    await until(() => bobGot.length === 3, 'bob gets it live')
    carol = await v2Client(app('alice'), carolId)
    const carolBack = []
    carol.on('message', (m) => carolBack.push(m))
    await until(() => carolBack.length === 1, 'carol gets it at login')
    assert.equal(carolBack[0].cid, conv.id)
    assert.deepEqual(JSON.parse(JSON.stringify(carolBack[0].msg)), { text: 'while you were away', type: 'text' })

    // History, as for any conversation.
    const history = await conv.queryMessages({ limit: 10 })
    assert.deepEqual(history.map((m) => m.getText ? m.getText() : m.content),
      ['temp hello', 'carol here', 'while you were away'])

    // Another client, no cache: `tempConvIds`, with `temp` and `ttl` in the row.
    const found = await bob.getConversation(conv.id, true)
    assert.ok(found instanceof TemporaryConversation)
    assert.equal(found.id, conv.id)
    assert.deepEqual(found.members.slice().sort(), [aliceId, bobId, carolId])
    expiresAfter(found.expiredAt, made, HOUR, 'found by id')

    // `where` queries leave it out unless they name it.
    const normal = await bob.createConversation({ members: [aliceId], name: 'normal', unique: false })
    const listed = await bob.getQuery().containsMembers([bobId]).find()
    assert.deepEqual(listed.map((c) => c.id), [normal.id])
    const byId = await bob.getQuery().equalTo('objectId', conv.id).find()
    assert.deepEqual(byId.map((c) => c.id), [conv.id])
    const [v2Listed, v2ById] = await Promise.all([
      v2Call((cb) => carol.query({ where: { m: carolId } }, cb)),
      v2Call((cb) => carol.query({ where: { objectId: conv.id } }, cb))
    ])
    assert.deepEqual(v2Listed.map((c) => c.objectId), [])
    assert.deepEqual(v2ById.map((c) => [c.objectId, c.temp, c.ttl > HOUR - 60 && c.ttl <= HOUR]), [[conv.id, true, true]])

    await alice.close()
    await bob.close()
    carol.close()
  })

  test(`${sdk.name}: a temporary conversation past its ttl is refused`, T, async () => {
    const app = (side) => appOf(sdk, 'expiry', side)
    const p = app('alice') + '_'
    const alice = await new Realtime(sdk.options(srv, app('alice'))).createIMClient(p + 'alice')
    const bob = await new Realtime(sdk.options(srv, app('bob'))).createIMClient(p + 'bob')

    const bad = await refusal(alice.createTemporaryConversation({ members: [p + 'bob'], ttl: -5 }), 'a negative ttl')
    assert.equal(bad.code, 4301)
    assert.match(bad.detail, /tempConvTTL must be a positive number of seconds/)
    const capped = await alice.createTemporaryConversation({ members: [p + 'bob'], ttl: 90 * 86400 })
    expiresAfter(capped.expiredAt, Date.now(), 30 * 86400, 'capped at 30 days')
    const made = Date.now()
    const plain = await alice.createTemporaryConversation({ members: [p + 'bob'] })
    expiresAfter(plain.expiredAt, made, 86400, 'a day by default')

    const conv = await alice.createTemporaryConversation({ members: [p + 'bob'], ttl: 1 })
    await conv.send(new TextMessage('soon gone'))
    assert.ok((await bob.getConversation(conv.id, true)) instanceof TemporaryConversation)
    await sleep(1200)

    // The SDK's own check first; with its clock pushed on, the server's answer.
    assert.equal(conv.expired, true)
    assert.equal((await refusal(conv.send(new TextMessage('late')), 'a send (SDK)')).code, 4323)
    conv.expiredAt = Date.now() + 60000
    const late = await refusal(conv.send(new TextMessage('late')), 'a send')
    assert.equal(late.code, 4323, 'the server\'s 4303, as the SDK shows it')
    assert.equal(late.name, 'TEMPORARY_CONVERSATION_EXPIRED')
    const history = await refusal(conv.queryMessages({ limit: 10 }), 'a history read')
    assert.equal(history.code, 4323)
    const gone = await refusal(bob.getConversation(conv.id, true), 'a lookup by id')
    assert.equal(gone.code, 4303)
    assert.equal(gone.message, 'CONVERSATION_NOT_FOUND')
    const named = await bob.getQuery().equalTo('objectId', conv.id).find()
    assert.deepEqual(named, [], 'a where query leaves it out')

    await alice.close()
    await bob.close()
  })
}
