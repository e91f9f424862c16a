'use strict'
// Issue 15: LeanCloud's current JavaScript SDKs (5.0.0-rc.8 and 4.3.1, protobuf over
// `lc.protobuf2.3`) as clients of leanrt-server, in conversations shared with the
// original 2.4.0 SDK (the v2 JSON dialect) on the same server.
const { test, before, after } = require('node:test')
const assert = require('node:assert/strict')
const crypto = require('node:crypto')

const { startServer, stopAll } = require('./helpers/server')
const { originalFactory, closeAll, opened, call: v2Call } = require('./helpers/original')
const { SDKS } = require('./helpers/v3-sdks')
const { until } = require('./leanrt-common')

const MASTER = 'v3Master'
const T = { timeout: 60000 }

let srv
let v2

// One app per SDK and flow: 5.x refuses a second Realtime for an appId in a process.
const apps = []
const appFor = (sdk, flow) => {
  const id = `v3${apps.length}x${sdk.name.replace(/\W/g, '')}${flow}`
  apps.push(id)
  return id
}
const FLOWS = ['chat', 'cross', 'signed', 'shared', 'unread', 'patch', 'extras', 'device']
for (const sdk of SDKS) for (const flow of FLOWS) appFor(sdk, flow)
const appOf = (sdk, flow) => apps[SDKS.indexOf(sdk) * FLOWS.length + FLOWS.indexOf(flow)]

before(async () => {
  const signed = SDKS.map((sdk) => `${appOf(sdk, 'signed')}:${MASTER}`)
  const open = apps.filter((a) => !a.endsWith('signed'))
  // The unread and extras flows read the server's own counts through the REST API.
  const keys = SDKS.flatMap((sdk) => ['unread', 'extras', 'device'].flatMap((flow) => ['--api-key', `${appOf(sdk, flow)}:${MASTER}`]))
  srv = await startServer({ app: open.concat(signed), args: keys })
  v2 = originalFactory(srv.routerUrl)
})

after(async () => {
  await closeAll()
  await stopAll()
})

// A 2.4.0 client, opened.
const v2Client = (appId, clientId) => opened(v2, appId, clientId)

// A typed message of the app's own (type 1), as the SDK docs define one.
function voteClass (sdk) {
  class Vote extends sdk.TypedMessage {}
  sdk.messageType(1)(Vote)
  sdk.messageField(['choice'])(Vote)
  return Vote
}

for (const sdk of SDKS) {
  const { Realtime, TextMessage, Event } = sdk.sdk

  test(`${sdk.name}: text and typed messages with a 2.4.0 peer, history paging, ping`, T, async () => {
    const appId = appOf(sdk, 'chat')
    const p = appId + '_' // clientIds are one namespace for every app
    const rt = new Realtime(sdk.options(srv, appId))
    const Vote = voteClass(sdk.sdk)
    rt.register(Vote)
    const alice = await rt.createIMClient(`${p}alice`)
    assert.equal(alice.id, `${p}alice`)
    const bob = await v2Client(appId, `${p}bob`)
    const bobGot = []
    bob.on('message', (m) => bobGot.push(m))
    const aliceGot = []
    alice.on(Event.MESSAGE, (m, conv) => aliceGot.push({ m, cid: conv.id }))

    const conv = await alice.createConversation({ members: [`${p}bob`], name: 'ab', topic: 'tests' })
    assert.deepEqual(conv.members.slice().sort(), [`${p}alice`, `${p}bob`])
    assert.equal(conv.name, 'ab')
    assert.equal(conv.get('topic'), 'tests')

    const text = await conv.send(new TextMessage('hello from v3'))
    assert.equal(typeof text.id, 'string')
    assert.ok(text.timestamp instanceof Date)
    const vote = new Vote()
    vote.choice = 'yes'
    vote.setText('I vote')
    await conv.send(vote)
    await until(() => bobGot.length === 2, 'bob gets both')
    assert.equal(bobGot[0].cid, conv.id)
    assert.equal(bobGot[0].fromPeerId, `${p}alice`)
    assert.deepEqual(JSON.parse(JSON.stringify(bobGot[0].msg)), { text: 'hello from v3', type: 'text' })
    assert.deepEqual(JSON.parse(JSON.stringify(bobGot[1].msg)), { _lctype: 1, _lctext: 'I vote', choice: 'yes' })

    // 2.4.0 -> v3: plain text, then the app's typed message as a raw object.
    const bobRoom = await v2Call((cb) => bob.room(conv.id, cb))
    await v2Call((cb) => bobRoom.send('hi from 2.4.0', cb))
    await v2Call((cb) => bobRoom.send({ _lctype: 1, _lctext: 'me too', choice: 'no' }, cb))
    await until(() => aliceGot.length === 2, 'alice gets both')
    assert.equal(aliceGot[0].cid, conv.id)
    assert.equal(aliceGot[0].m.from, `${p}bob`)
    assert.equal(aliceGot[0].m.content, 'hi from 2.4.0')
    assert.ok(aliceGot[1].m instanceof Vote, 'a registered typed message')
    assert.equal(aliceGot[1].m.choice, 'no')
    assert.equal(aliceGot[1].m.getText(), 'me too')

    // History: newest first in pages, each page oldest first.
    for (let k = 0; k < 5; k++) await conv.send(new TextMessage(`n${k}`))
    const contentOf = (m) => (m instanceof TextMessage ? m.getText() : m instanceof Vote ? `vote ${m.choice}` : m.content)
    const newest = await conv.queryMessages({ limit: 3 })
    assert.deepEqual(newest.map(contentOf), ['n2', 'n3', 'n4'])
    const pages = []
    const it = conv.createMessagesIterator({ limit: 4 })
    for (;;) {
      const page = await it.next()
      if (page.value.length) pages.push(page.value.map(contentOf))
      if (page.done) break
    }
    assert.deepEqual(pages, [
      ['n1', 'n2', 'n3', 'n4'],
      ['vote yes', 'hi from 2.4.0', 'vote no', 'n0'],
      ['hello from v3']
    ])

    assert.deepEqual(await alice.ping([`${p}bob`, `${p}nobody`]), [`${p}bob`])
    // Count and update, seen from 2.4.0.
    assert.equal(await conv.count(), 2)
    conv.name = 'renamed'
    conv.set('topic', 'more tests')
    await conv.save()
    const [found] = await v2Call((cb) => bob.query({ where: { objectId: conv.id } }, cb))
    assert.equal(found.name, 'renamed')
    assert.equal(found.topic, 'more tests', JSON.stringify(found))
    await alice.close()
    bob.close()
  })
}

for (const sdk of SDKS) {
  const { Realtime, TextMessage, Event, MessageStatus } = sdk.sdk

  test(`${sdk.name}: one conversation with a 2.4.0 client: members both ways, receipts both ways`, T, async () => {
    const appId = appOf(sdk, 'cross')
    const p = appId + '_'
    const rt = new Realtime(sdk.options(srv, appId))
    const alice = await rt.createIMClient(`${p}alice`)
    const bob = await v2Client(appId, `${p}bob`)
    const bobEvents = []
    for (const ev of ['invited', 'membersjoined', 'membersleft', 'receipt']) bob.on(ev, (d) => bobEvents.push([ev, d]))
    const conv = await alice.createConversation({ members: [`${p}bob`], name: 'cross' })
    await until(() => bobEvents.some(([ev]) => ev === 'invited'), 'bob is invited')
    assert.equal(bobEvents[0][1].cid, conv.id)
    assert.equal(bobEvents[0][1].initBy, `${p}alice`)

    // v3 adds; 2.4.0 sees it.
    await conv.add([`${p}carol`])
    await until(() => bobEvents.some(([ev]) => ev === 'membersjoined'), 'bob sees carol join')
    assert.deepEqual(bobEvents.find(([ev]) => ev === 'membersjoined')[1].m, [`${p}carol`])
    // 2.4.0 adds and removes; v3 sees both, on the client and on the conversation.
    const aliceEvents = []
    alice.on(Event.MEMBERS_JOINED, (p, c) => aliceEvents.push(['joined', p.members, p.invitedBy, c.id]))
    alice.on(Event.MEMBERS_LEFT, (p, c) => aliceEvents.push(['left', p.members, p.kickedBy, c.id]))
    const bobRoom = await v2Call((cb) => bob.room(conv.id, cb))
    await v2Call((cb) => bobRoom.add(`${p}dave`, cb))
    await v2Call((cb) => bobRoom.remove(`${p}carol`, cb))
    await until(() => aliceEvents.length === 2, 'alice sees both changes')
    assert.deepEqual(aliceEvents, [['joined', [`${p}dave`], `${p}bob`, conv.id], ['left', [`${p}carol`], `${p}bob`, conv.id]])
    assert.deepEqual(conv.members.slice().sort(), [`${p}alice`, `${p}bob`, `${p}dave`])

    // 2.4.0 asks for a receipt; the v3 client's ack (a timestamp range) makes it.
    const got = []
    alice.on(Event.MESSAGE, (m) => got.push(m))
    await v2Call((cb) => bobRoom.send('ack me', { receipt: true }, cb))
    await until(() => bobEvents.some(([ev]) => ev === 'receipt'), 'bob gets the receipt')
    const receipt = bobEvents.find(([ev]) => ev === 'receipt')[1]
    assert.equal(receipt.cid, conv.id)
    assert.equal(receipt.id, got[0].id)
    // v3 asks for one; 2.4.0's ack makes it, and the message turns delivered.
    const sent = await conv.send(new TextMessage('ack me too'), { receipt: true })
    await until(() => sent.status === MessageStatus.DELIVERED, 'alice sees her message delivered')
    assert.ok(sent.deliveredAt instanceof Date)
    assert.ok(sent.deliveredAt >= sent.timestamp, 'delivered after it was sent')
    await alice.close()
    bob.close()
  })

  test(`${sdk.name}: a signed app: login by signature, then a reconnect after a server restart by session token`, T, async () => {
    const appId = appOf(sdk, 'signed')
    const p = appId + '_'
    const signs = []
    const sign = (text) => {
      const timestamp = Date.now()
      const nonce = crypto.randomBytes(8).toString('hex')
      const signature = crypto.createHmac('sha1', MASTER).update(text(timestamp, nonce)).digest('hex')
      return { signature, timestamp, nonce }
    }
    const signatureFactory = (clientId) => {
      signs.push(clientId)
      return sign((t, n) => `${appId}:${clientId}::${t}:${n}`)
    }
    const conversationSignatureFactory = (cid, clientId, targets, action) => {
      const sorted = targets.slice().sort().join(':')
      return sign((t, n) => (cid ? `${appId}:${clientId}:${cid}:${sorted}:${t}:${n}:${action}` : `${appId}:${clientId}:${sorted}:${t}:${n}`))
    }
    const rt = new Realtime(sdk.options(srv, appId))
    const alice = await rt.createIMClient(`${p}alice`, { signatureFactory, conversationSignatureFactory })
    // A second client on the same socket with a bad signature is refused (4102);
    // the first one stays logged in.
    const bad = () => ({ signature: 'bad', timestamp: Date.now(), nonce: 'n' })
    await assert.rejects(rt.createIMClient(`${p}mallory`, { signatureFactory: bad }), (e) => e.code === 4102)
    const conv = await alice.createConversation({ members: [`${p}bob`], name: 'signed' })
    await conv.send(new TextMessage('before'))
    const reconnected = new Promise((resolve) => alice.once(Event.RECONNECT, resolve))
    const failed = []
    alice.on(Event.RECONNECT_ERROR, (e) => failed.push(e))
    await srv.restart({ samePortOnly: true })
    await reconnected
    assert.deepEqual(failed, [])
    assert.deepEqual(signs, [`${p}alice`], 'the reconnect signed nothing: its session token logged it in')
    await conv.send(new TextMessage('after'))
    const log = await conv.queryMessages({ limit: 10 })
    assert.deepEqual(log.map((m) => m.getText()), ['before', 'after'])
    await alice.close()
  })
}

for (const sdk of SDKS) {
  const { Realtime, TextMessage, Event } = sdk.sdk

  test(`${sdk.name}: two clients on one Realtime share its socket and talk to each other`, T, async () => {
    const appId = appOf(sdk, 'shared')
    const p = appId + '_'
    const rt = new Realtime(sdk.options(srv, appId))
    const alice = await rt.createIMClient(`${p}alice`)
    const bob = await rt.createIMClient(`${p}bob`)
    assert.equal(bob.id, `${p}bob`)
    const got = { alice: [], bob: [] }
    alice.on(Event.MESSAGE, (m) => got.alice.push([m.from, m.getText ? m.getText() : m.content]))
    bob.on(Event.MESSAGE, (m) => got.bob.push([m.from, m.getText ? m.getText() : m.content]))
    const invited = []
    bob.on(Event.INVITED, (payload, conv) => invited.push([payload.invitedBy, conv.id]))
    const conv = await alice.createConversation({ members: [`${p}bob`], name: 'shared' })
    await until(() => invited.length === 1, 'bob is invited on the shared socket')
    assert.deepEqual(invited, [[`${p}alice`, conv.id]])
    await conv.send(new TextMessage('to bob'))
    await until(() => got.bob.length === 1, 'bob gets it')
    const bobConv = await bob.getConversation(conv.id)
    await bobConv.send(new TextMessage('to alice'))
    await until(() => got.alice.length === 1, 'alice gets it')
    assert.deepEqual(got, { alice: [[`${p}bob`, 'to alice']], bob: [[`${p}alice`, 'to bob']] })
    assert.deepEqual(await alice.ping([`${p}bob`]), [`${p}bob`])
    // A read receipt: bob reads what alice asked receipts for.
    const readAt = new Promise((resolve) => conv.once(Event.LAST_READ_AT_UPDATE, resolve))
    const asked = await conv.send(new TextMessage('read me'), { receipt: true })
    await until(() => got.bob.length === 2, 'bob gets it')
    await bobConv.read()
    await readAt
    assert.ok(conv.lastReadAt >= asked.timestamp, 'alice learns when bob read it')
    // A third client, a 2.4.0 one, sees both online; closing bob leaves alice working.
    const carol = await v2Client(appId, `${p}carol`)
    assert.deepEqual(await v2Call((cb) => carol.ping([`${p}alice`, `${p}bob`], cb)), [`${p}alice`, `${p}bob`])
    // bob quits and joins again; alice sees both.
    const changes = []
    conv.on(Event.MEMBERS_LEFT, (payload) => changes.push(['left', payload.members]))
    conv.on(Event.MEMBERS_JOINED, (payload) => changes.push(['joined', payload.members]))
    await bobConv.quit()
    await bobConv.join()
    await until(() => changes.length === 2, 'alice sees bob quit and join')
    assert.deepEqual(changes, [['left', [`${p}bob`]], ['joined', [`${p}bob`]]])
    await bob.close()
    const online = await v2Call((cb) => carol.ping([`${p}alice`, `${p}bob`], cb))
    assert.deepEqual(online, [`${p}alice`])
    await conv.send(new TextMessage('still here'))
    const log = await conv.queryMessages({ limit: 10 })
    assert.deepEqual(log.map((m) => m.getText()), ['to bob', 'to alice', 'read me', 'still here'])
    await alice.close()
    carol.close()
  })
}

// The server's own unread count for a client (REST, master key).
async function serverUnread (appId, client) {
  const res = await fetch(`${srv.routerUrl}/1.1/rtm/messages/unread/${encodeURIComponent(client)}`, {
    headers: { 'X-LC-Id': appId, 'X-LC-Key': `${MASTER},master` }
  })
  assert.equal(res.status, 200)
  return (await res.json()).count
}

// Waits until the server no longer counts `client` online (REST, master key).
async function offline (appId, client) {
  for (let k = 0; k < 500; k++) {
    const res = await fetch(`${srv.routerUrl}/1.2/rtm/clients/check-online`, {
      method: 'POST',
      headers: { 'X-LC-Id': appId, 'X-LC-Key': `${MASTER},master`, 'Content-Type': 'application/json' },
      body: JSON.stringify({ client_ids: [client] })
    })
    assert.equal(res.status, 200)
    if ((await res.json()).results.length === 0) return
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
  assert.fail(`${client} is still online`)
}

// Waits until the server counts `count` messages unread for `client`.
async function settled (appId, client, count) {
  let now = -1
  for (let k = 0; k < 500 && now !== count; k++) {
    now = await serverUnread(appId, client)
    if (now !== count) await new Promise((resolve) => setTimeout(resolve, 20))
  }
  assert.equal(now, count, `${client} has ${count} unread`)
}

for (const sdk of SDKS) {
  const { Realtime, Event } = sdk.sdk

  test(`${sdk.name}: unread counts after an offline period, then read`, T, async () => {
    const appId = appOf(sdk, 'unread')
    const p = appId + '_'
    const rt = new Realtime(sdk.options(srv, appId))
    // alice has been online once; bob (2.4.0) writes while she is away.
    await (await rt.createIMClient(`${p}alice`)).close()
    const bob = await v2Client(appId, `${p}bob`)
    const room = await v2Call((cb) => bob.room({ name: 'unread', members: [`${p}alice`] }, cb))
    for (const text of ['m1', 'm2', 'm3']) await v2Call((cb) => room.send(text, cb))
    assert.equal(await serverUnread(appId, `${p}alice`), 3)

    const updates = []
    const alice = await rt.createIMClient(`${p}alice`)
    alice.on(Event.UNREAD_MESSAGES_COUNT_UPDATE, (convs) => updates.push(...convs))
    await until(() => updates.length > 0, 'alice is told her unread counts')
    const conv = updates.find((c) => c.id === room.id)
    assert.equal(conv.unreadMessagesCount, 3)
    assert.equal(conv.lastMessage.content, 'm3')
    assert.equal(conv.lastMessage.from, `${p}bob`)
    // Unread mode pulls: the messages come by history, not pushed.
    const log = await conv.queryMessages({ limit: 10 })
    assert.deepEqual(log.map((m) => m.content), ['m1', 'm2', 'm3'])
    await conv.read()
    assert.equal(conv.unreadMessagesCount, 0)
    await settled(appId, `${p}alice`, 0)
    await alice.close()

    // Logged in again: nothing is unread any more.
    const again = []
    const alice2 = await rt.createIMClient(`${p}alice`)
    alice2.on(Event.UNREAD_MESSAGES_COUNT_UPDATE, (convs) => again.push(...convs))
    await alice2.ping([`${p}bob`])
    assert.deepEqual(again.filter((c) => c.unreadMessagesCount > 0).map((c) => c.id), [])
    await alice2.close()
    bob.close()
  })
}

// alice and bob on one Realtime of `sdk`, carol on 2.4.0; what bob and carol get.
async function threeMembers (sdk, appId) {
  const p = appId + '_'
  const rt = new sdk.sdk.Realtime(sdk.options(srv, appId))
  const alice = await rt.createIMClient(`${p}alice`)
  const bob = await rt.createIMClient(`${p}bob`)
  const carol = await v2Client(appId, `${p}carol`)
  const carolGot = []
  carol.on('message', (m) => carolGot.push(m))
  const got = []
  bob.on(sdk.sdk.Event.MESSAGE, (m) => got.push(m))
  return { p, rt, alice, bob, carol, got, carolGot }
}

for (const sdk of SDKS) {
  const { TextMessage, RecalledMessage, Event } = sdk.sdk

  test(`${sdk.name}: the sender modifies and recalls messages; members are told, history changes`, T, async () => {
    const appId = appOf(sdk, 'patch')
    const { p, alice, bob, carol, got, carolGot } = await threeMembers(sdk, appId)
    const changes = []
    bob.on(Event.MESSAGE_UPDATE, (m, c) => changes.push(['update', m.id, m.getText(), c.id]))
    bob.on(Event.MESSAGE_RECALL, (m, c) => changes.push(['recall', m.id, m instanceof RecalledMessage, c.id]))
    const conv = await alice.createConversation({ members: [`${p}bob`, `${p}carol`], name: 'patch' })
    const typo = await conv.send(new TextMessage('tpyo'))
    const oops = await conv.send(new TextMessage('oops'))
    await until(() => got.length === 2 && carolGot.length === 2, 'both get both')

    await conv.update(typo, new TextMessage('typo'))
    await conv.recall(oops)
    await until(() => changes.length === 2, 'bob is told of both changes')
    assert.deepEqual(changes, [['update', typo.id, 'typo', conv.id], ['recall', oops.id, true, conv.id]])

    // History holds the new contents, for v3 and for 2.4.0.
    const log = await conv.queryMessages({ limit: 10 })
    assert.equal(log[0].getText(), 'typo')
    assert.ok(log[1] instanceof RecalledMessage)
    const carolRoom = await v2Call((cb) => carol.room(conv.id, cb))
    const carolLog = await v2Call((cb) => carolRoom.log(cb))
    assert.equal(carolLog[0].msg.text, 'typo')
    assert.equal(carolLog[1].msg._lctype, -127)

    // Only the sender may change a message.
    const bobConv = await bob.getConversation(conv.id)
    await assert.rejects(bobConv.recall(got[0]), /./)
    await assert.rejects(conv.update({ id: 'no-such-id', timestamp: new Date() }, new TextMessage('x')), (e) => e.code === 4401)
    // The first client leaves the shared socket; the second goes on.
    await alice.close()
    await bobConv.send(new TextMessage('still on'))
    await until(() => carolGot.length === 3, 'carol gets it')
    assert.equal(carolGot[2].fromPeerId, `${p}bob`)
    await bob.close()
    carol.close()
  })
}

for (const sdk of SDKS) {
  const { TextMessage, BinaryMessage, Event } = sdk.sdk

  test(`${sdk.name}: mentions and binary messages, live, offline, in history and changed`, T, async () => {
    const appId = appOf(sdk, 'extras')
    const { p, rt, alice, bob, carol, got, carolGot } = await threeMembers(sdk, appId)
    const conv = await alice.createConversation({ members: [`${p}bob`, `${p}carol`], name: 'extras' })

    const named = new TextMessage('hi bob').setMentionList([`${p}bob`])
    const bytes = Uint8Array.from([0, 1, 2, 250, 255])
    const sent = []
    for (const m of [named, new TextMessage('hi carol').setMentionList([`${p}carol`]),
      new TextMessage('hi all').mentionAll(), new BinaryMessage(bytes.buffer)]) sent.push((await conv.send(m)).id)
    await until(() => got.length === 4 && carolGot.length === 4, 'bob and carol get all four')
    // 4.3.1 may emit messages out of order while it looks the conversation up.
    const inOrder = (list, id) => sent.map((s) => list.find((m) => id(m) === s))
    got.splice(0, 4, ...inOrder(got, (m) => m.id))
    carolGot.splice(0, 4, ...inOrder(carolGot, (m) => m.id))
    const seen = (m) => [m.content instanceof ArrayBuffer ? [...new Uint8Array(m.content)] : m.getText(),
      m.mentioned, m.mentionList, Boolean(m.mentionedAll)]
    const expected = [
      ['hi bob', true, [`${p}bob`], false],
      ['hi carol', false, [`${p}carol`], false],
      ['hi all', true, [], true],
      [[0, 1, 2, 250, 255], false, [], false]
    ]
    assert.deepEqual(got.map(seen), expected, 'live')
    assert.ok(got[3] instanceof BinaryMessage)
    // 2.4.0 sees the text and the mentions it does not know as extra fields.
    assert.deepEqual(carolGot.map((m) => [m.msg.text, m.mentionPids, m.mentionAll]).slice(0, 3),
      [['hi bob', [`${p}bob`], undefined], ['hi carol', [`${p}carol`], undefined], ['hi all', undefined, true]])
    assert.equal(carolGot[3].msg, Buffer.from(bytes).toString('base64'), '2.4.0 gets the bytes as base64')

    // History keeps them.
    const log = await conv.queryMessages({ limit: 10 })
    assert.deepEqual(log.map(seen).map(([c, , list, all]) => [c, list, all]),
      expected.map(([c, , list, all]) => [c, list, all]), 'history')
    assert.ok(log[3] instanceof BinaryMessage)
    const bobConv = await bob.getConversation(conv.id)
    const bobLog = await bobConv.queryMessages({ limit: 10 })
    assert.deepEqual(bobLog.map((m) => m.mentioned), [true, false, true, false])

    // A change replaces the mentions; bob is told with the new list.
    const changed = []
    bob.on(Event.MESSAGE_UPDATE, (m) => changed.push([m.id, m.getText(), m.mentionList, m.mentioned]))
    await conv.update(named, new TextMessage('hi carol instead').setMentionList([`${p}carol`]))
    await until(() => changed.length === 1, 'bob is told of the change')
    assert.deepEqual(changed, [[named.id, 'hi carol instead', [`${p}carol`], false]])
    const after = await conv.queryMessages({ limit: 10 })
    assert.deepEqual(after[0].mentionList, [`${p}carol`])
    assert.ok(after[0].updatedAt >= named.timestamp, 'history has the change time')

    // Offline: bob is told which conversation mentions him (once his acks of the
    // live ones, which the SDK sends in batches, have settled them).
    await settled(appId, `${p}bob`, 0)
    await bob.close()
    await conv.send(new TextMessage('are you there, bob?').setMentionList([`${p}bob`]))
    await conv.send(new TextMessage('never mind'))
    await settled(appId, `${p}bob`, 2)
    const updates = []
    const bob2 = await rt.createIMClient(`${p}bob`)
    bob2.on(Event.UNREAD_MESSAGES_COUNT_UPDATE, (convs) => updates.push(...convs))
    await until(() => updates.some((c) => c.id === conv.id), 'bob is told his unread counts')
    const told = updates.find((c) => c.id === conv.id)
    assert.deepEqual([told.unreadMessagesCount, told.unreadMessagesMentioned, told.lastMessage.getText()],
      [2, true, 'never mind'])
    await bob2.close()
    await alice.close()
    carol.close()
  })
}

// The first reply of `emitter` to `event`.
const once = (emitter, event) => new Promise((resolve) => emitter.once(event, (...args) => resolve(args)))

for (const sdk of SDKS) {
  // A second device: the other SDK (5.x allows one Realtime per appId in a process).
  const other = SDKS.find((s) => s !== sdk)
  const { Realtime, Event } = sdk.sdk

  test(`${sdk.name}: single-device login: a login under the same tag elsewhere displaces the first, and its reconnect is refused`, T, async () => {
    const appId = appOf(sdk, 'device')
    const id = `${appId}_alice`
    const phone = new Realtime(sdk.options(srv, appId))
    const tablet = new other.sdk.Realtime(other.options(srv, appId))
    const first = await phone.createIMClient(id, { tag: 'mobile' })
    const conflicts = []
    first.on(Event.CONFLICT, (payload) => conflicts.push(payload))

    // Its own reconnect (the same device) is let in.
    const back = once(first, Event.RECONNECT)
    phone.pause()
    phone.resume()
    await back
    assert.deepEqual(await first.ping([id]), [id])

    // Another tag, or none, on the other device displaces nobody.
    const web = await tablet.createIMClient(id, { tag: 'web' })
    await web.close()
    const untagged = await tablet.createIMClient(id)
    await untagged.close()
    assert.deepEqual(conflicts, [])

    // The same tag on the other device: the first is told, and is gone.
    const second = await tablet.createIMClient(id, { tag: 'mobile' })
    await until(() => conflicts.length === 1, 'the first device is displaced')
    assert.equal(conflicts[0].reason, 'SESSION_CONFLICT')
    assert.deepEqual(await second.ping([id]), [id])

    // The first device logs in afresh and takes the tag back (the SDK keeps a
    // displaced client until it is closed); then, while it is offline, the other one
    // logs in again: its reconnect is refused with 4111.
    await first.close().catch(() => {})
    const displaced = []
    second.on(other.sdk.Event.CONFLICT, (payload) => displaced.push(payload))
    const again = await phone.createIMClient(id, { tag: 'mobile' })
    await until(() => displaced.length === 1, 'the second device is displaced')
    const refused = once(again, Event.RECONNECT_ERROR)
    phone.pause()
    await offline(appId, id)
    await second.close().catch(() => {})
    const third = await tablet.createIMClient(id, { tag: 'mobile' })
    phone.resume()
    const [error] = await refused
    assert.equal(error.code, 4111)
    // The device that holds the tag goes on working.
    assert.deepEqual(await third.ping([id]), [id])
    await third.close()
    await again.close().catch(() => {})
  })
}
