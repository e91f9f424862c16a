// Compiled by leanrt-types.test.js with `tsc --noEmit --strict`: typical 2.4.0 code.
import realtime = require('..')

const rt = realtime({ appId: 'APP', clientId: 'alice', router: 'http://127.0.0.1:1' }, (frame) => {
  const peer: string | undefined = frame.peerId
  void peer
})
realtime.config({ heartbeatsTime: 30000 })
const version: string = realtime.version

rt.on('message', (data) => {
  const from: string = data.fromPeerId
  const body = data.msg
  if (typeof body !== 'string' && 'type' in body && body.type === 'image') {
    const url: unknown = body.url
    void url
  }
  void from
})
rt.on('close', (event) => console.log(event.code, event.reason))
rt.on('membersjoined', (data) => console.log(data.m, data.initBy))
rt.on('conv-results custom', (data) => console.log(data))

const room = rt.room({ name: 'R', members: ['bob'], attr: { k: 1 } }, (created) => {
  created
    .send('hi', { receipt: true }, (ack) => console.log(ack.uid, ack.t))
    .send({ text: 'img', url: 'http://x', metaData: { name: 'n' } }, { type: 'image' }, () => {})
    .log({ limit: 10 }, (logs) => logs.forEach((item) => console.log(item.msgId, item.msg)))
    .count((n: number) => console.log(n))
    .list((members) => console.log(members))
})
room.receive((m) => console.log(m.cid)).receipt((r) => console.log(r.id))
rt.room('5550000000000000000000aa', (found) => console.log(found ? found.name : null))
rt.query({ compact: true }, (results) => results.forEach((c) => console.log(c.objectId))).ping(['bob'], (online) =>
  console.log(online.length),
)
const html: string = realtime._tool.encodeHTML('<b>')
const serial: number = realtime._engine.getSerialId(rt.cache)
rt.close()
void version
void html
void serial
