// The ESM entry of `leanrt/promises`: the CommonJS module's exports, by name.
import promises from './promises.js'

export const { connect, LeanrtError } = promises
