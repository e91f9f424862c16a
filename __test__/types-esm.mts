// Compiled by leanrt-types.test.js with `--module nodenext`: the ESM entry's types, as
// `import { realtime } from 'leancloud-realtime'` (here by the package's own name).
import { realtime } from 'leanrt'
import realtimeDefault from 'leanrt'

const same: typeof realtime = realtimeDefault
const options: realtime.Options = { appId: 'APP', clientId: 'alice', router: 'http://127.0.0.1:1' }
const rt: realtime.RealtimeObject = same(options, () => {
  rt.room({ name: 'ops', members: ['bob'] }, (room) => {
    room.send('hello', { receipt: true }, (ack) => void ack)
  })
})
// @ts-expect-error appId is required
realtime({ clientId: "x" })
