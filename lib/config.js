'use strict'
// The module-global configuration of `realtime.config()`.
const native = require('../binding.js')

const config = {
  // 2.4.0's default; read by the engine each time the heartbeat timer is armed.
  heartbeatsTime: 60 * 1000,
  // A WebSocket class to drive instead of the native transport; unset by default.
  WebSocket: undefined,
}

/** Applies `realtime.config(newConfig)`: a shallow merge, undefined values skipped. */
function configure(tool, newConfig) {
  tool.extend(config, newConfig)
  native.setHeartbeatsTime(Number(config.heartbeatsTime))
}

module.exports = { config, configure, native }
