// Compiled by leanrt-types.test.js with `tsc --noEmit --strict`: typical 2.4.0 code, plus the
// overload rules of 2.4.0 as types (`@ts-expect-error` marks calls that must not compile).
import realtime = require('..')

const auth: realtime.AuthFunction = (params, done) => {
  const members: string[] = 'members' in params ? params.members : []
  const action: string | undefined = 'action' in params ? params.action : undefined
  void members
  void action
  if (!params.clientId) return done()
  done({ signature: 'hex', nonce: 'n', timestamp: Math.floor(Date.now() / 1000) })
}

const rt = realtime(
  { appId: 'APP', clientId: 'alice', router: 'http://127.0.0.1:1', encodeHTML: true, secure: false, region: 'us', auth },
  function (frame) {
    const peer: string | undefined = frame.peerId
    const center: realtime.EventCenter = this
    void peer
    void center
  },
)
realtime.config({ heartbeatsTime: 30000 })
const version: string = realtime.version
const same: typeof realtime = realtime.realtime

// Events: typed payloads for the named events and the raw cmd-op names; `this` is the event center.
rt.on('message', function (data) {
  const from: string = data.fromPeerId
  const body = data.msg
  if (typeof body !== 'string' && 'type' in body && body.type === 'image') {
    // A custom object may have a `type` too, so only `unknown` is certain here.
    const url: unknown = body.url
    void url
  }
  const center: realtime.EventCenter = this
  void center
  void from
})
rt.on('close', (event) => console.log(event.code, event.reason, event.wasClean))
rt.on('membersjoined', (data) => console.log(data.m, data.initBy, data.cid))
rt.on('invited', (data) => console.log(data.initBy))
rt.on('receipt', (data) => console.log(data.id, data.t, data.cid))
rt.on('create', (data) => console.log(data.cid, data.cdate))
rt.on('error', (err) => {
  if (err && 'code' in err) console.log(err.code, err.reason)
  else if (err) console.log(err.message, err.frame)
})
rt.on('reuse', () => console.log('reconnecting'))
rt.on('conv-results', (data) => data.results.forEach((c) => console.log(c.objectId, c.m)))
rt.on('session-query-result', (data) => console.log(data.onlineSessionPeerIds))
rt.on('direct', (data) => console.log(data.msg))
rt.on('ack', (data) => console.log(data.uid))
rt.on('conv-results custom', (data) => console.log(data))
const onOpen = (frame: realtime.OpenFrame) => console.log(frame.i)
rt.once('open', onOpen).off('open', onOpen).emit('custom', { any: 1 }).emit('open', { cmd: 'session', op: 'opened' })

const room = rt.room({ name: 'R', members: ['bob'], attr: { k: 1 }, transient: false, unique: true }, (created) => {
  const sendOptions: realtime.SendOptions = { receipt: true }
  created
    .send('hi', sendOptions, (ack) => console.log(ack.uid, ack.t, ack.code, sendOptions.serialId, sendOptions.data))
    .send('bare')
    .send({ k: 1 }, (ack) => console.log(ack.i))
    .send({ text: 'img', url: 'http://x', objectId: 'o', metaData: { name: 'n', width: 1 } }, { type: 'image' }, undefined)
    .send({ text: 'here', metaData: { longitude: 1, latitude: 2 } }, { type: 'location', transient: true }, () => {})
    .log({ limit: 10, t: Date.now(), mid: 'm' }, (logs) => logs.forEach((item) => console.log(item.msgId, item.msg, item.fromPeerId)))
    .log((logs) => console.log(logs.length))
    .count((n: number) => console.log(n))
    .list((members) => console.log(members && members.length))
    .add(['carol'], (frame) => console.log(frame.op))
    .remove('carol')
    .join()
    .leave((frame) => console.log(frame.cid))
    .update({ name: 'R2', attr: { k: 2 } }, (frame) => console.log(frame.udate))
  // @ts-expect-error send(data, options): with 2 arguments the options would be called as the callback
  created.send('x', { receipt: true })
  // @ts-expect-error log(options): with 1 argument the options would be called as the callback
  created.log({ limit: 1 })
})
room.receive((m) => console.log(m.cid)).receipt((r) => console.log(r.id))
const quick: realtime.RoomObject = rt.room((r) => console.log(r.id))
rt.room('5550000000000000000000aa', (found) => console.log(found ? found.name : null))
const queryOptions: realtime.QueryOptions = { where: { m: ['alice', 'bob'], roomIds: ['x'] }, sort: '-lm', limit: 5, skip: 0 }
rt.query({ compact: true }, (results) => results.forEach((c) => console.log(c.objectId)))
  .query(queryOptions, undefined)
  .query((results) => console.log(results.length, queryOptions.flag))
  .query()
  .ping(['bob'], (online) => console.log(online.length))
  .ping('bob', (online) => console.log(online))
// @ts-expect-error query(options): with 1 argument the options would be called as the callback
rt.query({ compact: true })
// @ts-expect-error ping needs a callback
rt.ping('bob')

// _tool and _engine.
const html: string = realtime._tool.encodeHTML('<b>')
const nested: { a: string[] } = realtime._tool.encodeHTML({ a: ['<'] })
const merged: { a: number } = realtime._tool.extend(true, { a: 1 }, { b: 2 })
const ec = realtime._tool.eventCenter()
ec.on('a b', (d) => console.log(d)).once('a', () => {}).emit('a', 1).off('a', () => {})
ec._one('a', () => {})
realtime._tool.ajax({ url: 'http://127.0.0.1:1/x', method: 'post', data: { a: 1 } }, (err, data) => console.log(err, data))
realtime._tool.ajax('http://127.0.0.1:1/y', (err) => console.log(err))
const isJson: boolean = realtime._tool.isJSONString('{}')
const now: number = realtime._tool.now()
realtime._tool.noop()
const serial: number = realtime._engine.getSerialId(rt.cache)
const decoded = realtime._engine.getMediaMsg({ options: { encodeHTML: true } }, '{"_lctype":-1,"_lctext":"x"}')
const encoded: string | undefined = realtime._engine.setMediaMsg(rt.cache, 'file', { metaData: { name: 'f', size: 1 } })
const peerId: string | undefined = rt.cache.options.peerId
const opened: boolean = rt.cache.openFlag
// The socket health check and forced reconnect of 2.4.0 programs; leanrt's pause.
const socket = rt.cache.ws
if (socket && socket.readyState !== 1) socket.close()
realtime._engine.wsMessage(rt.cache, { data: '{"cmd":"custom","op":"ping"}' })
realtime._engine.wsSend(rt.cache, { cmd: 'session', op: 'query', sessionPeerIds: ['bob'] })
realtime._engine.pause(rt.cache, true)
rt.close()
rt.destroy().close
void [version, same, html, nested, merged, isJson, now, serial, decoded, encoded, peerId, opened, quick]
