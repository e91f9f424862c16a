'use strict'
// leanrt: the leancloud-realtime 2.4.0 API on a native engine (protocol.md §8).
const tool = require('./lib/tool')
const engine = require('./lib/engine')
const { config, configure } = require('./lib/config')
const { newRealtimeObject } = require('./lib/realtime-object')
const { version } = require('./package.json')

const REGIONS = ['cn', 'us']

/** `realtime(options, callback?)`: creates a RealtimeObject and opens it. */
function realtime(options, callback) {
  if (typeof options !== 'object') throw new Error('realtime need a argument at least.')
  if (!options.appId) throw new Error('Options must have appId.')
  const WebSocket = config.WebSocket
  const region = options.region || 'cn'
  if (!REGIONS.includes(region)) throw new Error('There is no this region.')
  // leanrt's extension: where to connect. Options given in code win over the environment
  // as a pair, so that `router` in code is not overridden by LEANRT_SERVER.
  const given = Boolean(options.server || options.router)
  const env = process.env
  const cacheOptions = {
    appId: options.appId,
    peerId: options.clientId,
    encodeHTML: options.encodeHTML || false,
    auth: options.auth,
    secure: typeof options.secure === 'undefined' ? !(WebSocket && WebSocket.loadFlashPolicyFile) : options.secure,
    region,
    server: (given ? options.server : env.LEANRT_SERVER) || undefined,
    router: (given ? options.router : env.LEANRT_ROUTER) || undefined,
  }
  const realtimeObj = newRealtimeObject()
  realtimeObj.clientId = cacheOptions.peerId
  realtimeObj.cache.options = cacheOptions
  realtimeObj.cache.ec = tool.eventCenter()
  realtimeObj.cache.authFun = cacheOptions.auth
  realtimeObj.open(callback)
  return realtimeObj
}

realtime.version = version
realtime._tool = tool
realtime._engine = engine
realtime.config = function (newConfig) {
  configure(tool, newConfig)
}
realtime.realtime = realtime

module.exports = realtime
