// Compiled by leanrt-types.test.js with `tsc --noEmit --strict --target es2022`: a bot on
// leanrt/promises (`@ts-expect-error` marks calls that must not compile).
import realtime = require('..')
import { connect, LeanrtError, type Realtime, type Room, type LocalCode } from '../promises'

async function bot(): Promise<void> {
  const controller = new AbortController()
  const rt: Realtime = await connect({ appId: 'APP', clientId: 'bot', router: 'http://127.0.0.1:1', timeout: 5000, signal: controller.signal })
  const callbacks: realtime.RealtimeObject = rt.callbacks
  const id: string | undefined = rt.clientId
  const room: Room = await rt.room({ name: 'ops', members: ['alice'], timeout: 1000 })
  const found: Room | null = await rt.room(room.id, { signal: controller.signal })
  const ack: realtime.AckFrame = await room.send('hello', { receipt: true, timeout: 1000 })
  const none: void = await room.send('typing', { transient: true })
  const maybe: realtime.AckFrame | undefined = await room.send('x', { transient: Math.random() > 0.5 })
  await room.send({ text: 'img', metaData: { name: 'n', width: 1 } }, { type: 'image' })
  const logs: realtime.LogItem[] = await room.log({ limit: 10, signal: controller.signal })
  const members: string[] | undefined = await room.list()
  const count: number = await room.count({ timeout: Infinity })
  const updated: realtime.UpdatedFrame = await room.update({ name: 'ops2' })
  const changed: realtime.MembersChangedFrame = await room.add(['carol'], { timeout: 100 })
  await room.remove('carol')
  await room.join()
  await room.leave({ signal: controller.signal })
  const convs: realtime.ConversationInfo[] = await rt.query({ compact: true, where: { m: 'bot' }, timeout: 100 })
  await rt.query()
  const online: string[] = await rt.ping(['alice'], { timeout: 100 })
  rt.on('close', (event) => console.log(event.code)).once('reuse', () => {}).off('close', () => {})
  for await (const m of rt.messages({ signal: controller.signal, highWaterMark: 100 })) {
    const from: string = m.fromPeerId
    const reply = await rt.room(m.cid)
    if (reply) await reply.send(`echo ${from}`)
    if (m.msg === 'stop') break
  }
  const stream = rt.messages()
  const first: IteratorResult<realtime.MessageFrame> = await stream.next()
  const ended: IteratorReturnResult<undefined> = await stream.return()
  try {
    await room.send('x')
  } catch (err) {
    if (err instanceof LeanrtError) {
      const code: number | LocalCode = err.code
      const reason: string | undefined = err.reason
      const detail: string | undefined = err.detail
      if (err.code === 'TIMEOUT' || err.code === 4401) console.log(code, reason, detail, err.frame && err.frame.cmd)
    }
  }
  await rt.close()
  void [callbacks, id, found, ack, none, maybe, logs, members, count, updated, changed, convs, online, first, ended]
}
void bot

// @ts-expect-error appId is required
connect({ clientId: 'x' })
// @ts-expect-error the timeout is a number
connect({ appId: 'APP', timeout: '5s' })
async function misuse(rt: Realtime, room: Room): Promise<void> {
  // @ts-expect-error a transient send resolves with nothing
  const ack: realtime.AckFrame = await room.send('x', { transient: true })
  // @ts-expect-error room(id) may find nothing
  const sure: Room = await rt.room('id')
  // @ts-expect-error ping takes clientIds
  await rt.ping()
  void [ack, sure]
}
void misuse
