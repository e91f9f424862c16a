// The ESM entry: `import realtime from 'leancloud-realtime'` and, as with 2.4.0 (whose
// `exports.realtime` Node's CommonJS lexer finds), `import { realtime } from …`.
import realtime from './index.js'

export { realtime }
export default realtime
