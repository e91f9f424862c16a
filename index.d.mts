// Types of the ESM entry (index.mjs): the same API as index.d.ts, default and named.
import realtime from './index.js'

export { realtime }
export default realtime
