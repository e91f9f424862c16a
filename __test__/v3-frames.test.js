'use strict'
// Issue 15: the v3 transport frame by frame, with a raw `ws` client and the SDK's own
// protobuf classes (`Protocols` of leancloud-realtime 5.0.0-rc.8): subprotocol
// negotiation and echo, both framings, and bad frames, which get an error and never
// a crash or silence.
const { test, before, after } = require('node:test')
const assert = require('node:assert/strict')
const WebSocket = require('ws')
const { Protocols } = require('leancloud-realtime-5')

const { startServer, stopAll } = require('./helpers/server')

const APP = 'v3Frames'
const { GenericCommand, CommandType, OpType } = Protocols
const name = (en, v) => Object.keys(en).find((k) => en[k] === v)

let srv
before(async () => {
  srv = await startServer({ app: APP })
})
after(() => stopAll())

// A connection offering `protocol`; resolves once open.
function connect (protocol) {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(srv.routerUrl.replace(/^http/, 'ws') + '/', protocol)
    ws.binaryType = 'nodebuffer'
    const inbox = []
    const waiting = []
    ws.on('message', (data, isBinary) => {
      const bytes = isBinary ? data : Buffer.from(data.toString(), 'base64')
      const cmd = GenericCommand.decode(bytes)
      const frame = { raw: cmd, isBinary, cmd: name(CommandType, cmd.cmd), op: cmd.op === null ? null : name(OpType, cmd.op), i: cmd.i }
      const w = waiting.shift()
      if (w) w(frame)
      else inbox.push(frame)
    })
    ws.next = () => new Promise((resolve) => (inbox.length ? resolve(inbox.shift()) : waiting.push(resolve)))
    ws.sendCommand = (fields, base64) => {
      const bytes = new GenericCommand(fields).toBuffer()
      ws.send(base64 ? bytes.toString('base64') : bytes)
    }
    ws.once('open', () => resolve(ws))
    ws.once('unexpected-response', (req, res) => reject(Object.assign(new Error('refused'), { status: res.statusCode })))
    ws.once('error', reject)
  })
}

async function opened (protocol, peerId) {
  const ws = await connect(protocol)
  ws.sendCommand({ cmd: 'session', op: 'open', appId: APP, peerId, i: 1, sessionMessage: { ua: 'test/1' } })
  const reply = await ws.next()
  assert.equal(reply.cmd, 'session')
  assert.equal(reply.op, 'opened')
  return { ws, reply }
}

test('the offered subprotocol is echoed; an unserved one is refused with 400', async () => {
  for (const protocol of ['lc.protobuf2.3', 'lc.protobuf2.1', 'lc.proto2base64.3', 'lc.proto2base64.1']) {
    const ws = await connect(protocol)
    assert.equal(ws.protocol, protocol)
    ws.close()
  }
  await assert.rejects(connect('lc.json.3'), (e) => e.status === 400)
  await assert.rejects(connect('lc.protobuf.3'), (e) => e.status === 400, 'the pre-3.5 package is not served')
})

test('login: opened carries the peerId, a session token and the server time, and code is unset', async () => {
  const { ws, reply } = await opened('lc.protobuf2.3', 'frames-alice')
  assert.equal(reply.i, 1)
  assert.equal(reply.raw.peerId, 'frames-alice')
  assert.ok(reply.isBinary)
  const s = reply.raw.sessionMessage
  assert.equal(s.code, null, 'the SDKs treat a set code as a failure')
  assert.match(s.st, /^\d+\.[0-9a-f]{40}\.frames-alice$/)
  assert.equal(s.stTtl, 7 * 24 * 3600)
  assert.ok(Math.abs(Number(reply.raw.serverTs) - Date.now()) < 60000)
  // `session refresh` gives a fresh token.
  ws.sendCommand({ cmd: 'session', op: 'refresh', i: 2, sessionMessage: { st: s.st } })
  const refreshed = await ws.next()
  assert.deepEqual([refreshed.cmd, refreshed.op, refreshed.i], ['session', 'refreshed', 2])
  assert.match(refreshed.raw.sessionMessage.st, /\.frames-alice$/)
  ws.close()
})

test('echo answers with the same i, in binary and in base64 framing', async () => {
  const { ws } = await opened('lc.protobuf2.3', 'frames-echo')
  ws.sendCommand({ cmd: 'echo', i: 9 })
  assert.deepEqual(await ws.next().then((f) => [f.cmd, f.i, f.isBinary]), ['echo', 9, true])
  ws.close()
  const b = await connect('lc.proto2base64.3')
  b.sendCommand({ cmd: 'echo', i: 4 }, true)
  assert.deepEqual(await b.next().then((f) => [f.cmd, f.i, f.isBinary]), ['echo', 4, false])
  b.close()
})

test('bad frames get error frames (with their i when readable), and the connection keeps working', async () => {
  const { ws } = await opened('lc.protobuf2.3', 'frames-bad')
  const expectError = async (label, i) => {
    const f = await ws.next()
    assert.equal(f.cmd, 'error', label)
    assert.equal(f.i, i, label)
    assert.equal(typeof f.raw.errorMessage.code, 'number', label)
    assert.equal(typeof f.raw.errorMessage.reason, 'string', label + ': a required field')
    return f.raw.errorMessage
  }
  ws.send(Buffer.from([0x0a])) // a truncated field
  assert.equal((await expectError('truncated', null)).code, 4200)
  ws.send(Buffer.from([0xff, 0xff, 0xff, 0xff]))
  await expectError('garbage', null)
  ws.send('%%% not base64 %%%')
  await expectError('text on a binary connection that is no base64', null)
  ws.sendCommand({ cmd: 'blacklist', op: 'query', i: 5, blacklistMessage: { srcCid: 'x' } })
  await expectError('a command leanrt does not serve', 5)
  ws.sendCommand({ cmd: 'conv', op: 'query', i: 6, convMessage: { where: { data: '{not json' } } })
  assert.match((await expectError('where that is no JSON', 6)).detail, /where\.data is not JSON/)
  ws.sendCommand({ cmd: 'conv', op: 'max_read', i: 7, convMessage: { cid: 'x' } })
  await expectError('an op leanrt does not serve', 7)
  // A wire type that does not match the schema (field 5, `i`, as a length-delimited string).
  ws.send(Buffer.from([0x08, 0x0e, 0x2a, 0x01, 0x41]))
  await expectError('a wrong wire type', null)
  // Quiet commands without i are accepted silently; the next answer is the echo.
  ws.sendCommand({ cmd: 'read', readMessage: { convs: [{ cid: 'x', timestamp: 1 }] } })
  ws.sendCommand({ cmd: 'report', op: 'upload', reportMessage: { type: 'token', data: 'x' } })
  ws.sendCommand({ cmd: 'echo', i: 8 })
  assert.deepEqual(await ws.next().then((f) => [f.cmd, f.i]), ['echo', 8])
  ws.close()
  // The server is still up.
  const again = await opened('lc.protobuf2.3', 'frames-after')
  again.ws.close()
})

test('before a login, a request gets 4105 with its i', async () => {
  const ws = await connect('lc.protobuf2.3')
  ws.sendCommand({ cmd: 'conv', op: 'count', i: 3, convMessage: { cid: 'x' } })
  const f = await ws.next()
  assert.deepEqual([f.cmd, f.i, f.raw.errorMessage.code], ['error', 3, 4105])
  ws.close()
})

test('offline messages: …2.1 pushes them at login, …2.3 sends an unread notification', async () => {
  const { ws: sender } = await opened('lc.protobuf2.3', 'frames-sender')
  sender.sendCommand({ cmd: 'conv', op: 'start', i: 2, convMessage: { m: ['frames-v21', 'frames-v23'], attr: { data: '{"name":"offline"}' } } })
  const started = await sender.next()
  assert.equal(started.op, 'started')
  const cid = started.raw.convMessage.cid
  for (const [k, text] of ['one', 'two'].entries()) {
    sender.sendCommand({ cmd: 'direct', i: 3 + k, directMessage: { cid, msg: text } })
    const ack = await sender.next()
    assert.deepEqual([ack.cmd, ack.i, ack.raw.ackMessage.code], ['ack', 3 + k, null])
  }
  sender.close()

  const { ws: v21 } = await opened('lc.protobuf2.1', 'frames-v21')
  const pushed = [await v21.next(), await v21.next()]
  assert.deepEqual(pushed.map((f) => [f.cmd, f.raw.directMessage.msg, f.raw.directMessage.offline, f.raw.directMessage.cid]),
    [['direct', 'one', true, cid], ['direct', 'two', true, cid]])
  v21.close()

  const { ws: v23 } = await opened('lc.protobuf2.3', 'frames-v23')
  const unread = await v23.next()
  assert.equal(unread.cmd, 'unread')
  const [tuple] = unread.raw.unreadMessage.convs
  assert.deepEqual([tuple.cid, tuple.unread, tuple.data, tuple.from], [cid, 2, 'two', 'frames-sender'])
  assert.ok(Number(unread.raw.unreadMessage.notifTime) > 0)
  v23.close()
})

test('conv members (Swift getOnlineMembers): online participants of a chat room and online members of a conversation, sorted, capped by limit', async () => {
  const [alice, bob, carol] = await Promise.all(['members-alice', 'members-bob', 'members-carol'].map((p) => opened('lc.protobuf2.3', p).then((o) => o.ws)))
  const ask = async (ws, i, convMessage) => {
    ws.sendCommand({ cmd: 'conv', op: 'members', i, convMessage })
    const f = await ws.next()
    assert.equal(f.i, i)
    return f
  }
  alice.sendCommand({ cmd: 'conv', op: 'start', i: 2, convMessage: { transient: true, attr: { data: '{"name":"room"}' } } })
  const room = (await alice.next()).raw.convMessage.cid
  bob.sendCommand({ cmd: 'conv', op: 'add', i: 2, convMessage: { cid: room, m: ['members-bob'] } })
  assert.equal((await bob.next()).op, 'added')
  const all = await ask(carol, 3, { cid: room })
  assert.deepEqual([all.cmd, all.op, all.raw.convMessage.cid, all.raw.convMessage.m], ['conv', 'members', room, ['members-alice', 'members-bob']])
  assert.deepEqual((await ask(carol, 4, { cid: room, limit: 1 })).raw.convMessage.m, ['members-alice'])

  // A normal conversation: its members that are online (members-dave never logs in).
  alice.sendCommand({ cmd: 'conv', op: 'start', i: 5, convMessage: { m: ['members-dave', 'members-carol', 'members-bob'] } })
  let started = await alice.next()
  while (started.op !== 'started') started = await alice.next()
  const cid = started.raw.convMessage.cid
  assert.deepEqual((await ask(alice, 6, { cid })).raw.convMessage.m, ['members-alice', 'members-bob', 'members-carol'])
  bob.close()
  await new Promise((resolve) => bob.once('close', resolve))
  let online = []
  for (let i = 7; i < 60; i++) {
    online = (await ask(alice, i, { cid })).raw.convMessage.m
    if (!online.includes('members-bob')) break
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
  assert.deepEqual(online, ['members-alice', 'members-carol'], 'bob went offline')

  const missing = await ask(alice, 99, { cid: '0123456789abcdef01234567' })
  assert.deepEqual([missing.cmd, missing.raw.errorMessage.code], ['error', 4303])
  const bad = await ask(alice, 100, {})
  assert.equal(bad.cmd, 'error', 'no cid')
  alice.close()
  carol.close()
})
