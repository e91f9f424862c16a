// Compiled by leanrt-types.test.js with `--module nodenext`: the ESM entry of leanrt/promises,
// by the package's own name.
import { connect, LeanrtError, type Realtime } from 'leanrt/promises'

const rt: Realtime = await connect({ appId: 'APP', clientId: 'alice', router: 'http://127.0.0.1:1' })
const room = await rt.room({ name: 'ops', members: ['bob'] })
await room.send('hello', { receipt: true }).catch((err: unknown) => err instanceof LeanrtError && console.log(err.code, err.reason))
for await (const m of rt.messages()) console.log(m.msg)
await rt.close()
