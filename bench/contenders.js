'use strict'
// The SDKs compared by the benchmarks, each loaded the way a user would load it and
// pointed at a local leanrt-server:
//   leanrt      this package, through its `router` option;
//   orig        leancloud-realtime 2.4.0 with its bundled ws 0.8;
//   orig-ws8    2.4.0 with ws 8 injected through realtime.config({WebSocket}).
// 2.4.0 has no way to choose a router, so its getServer is replaced by one that asks
// ours and fills cache.server exactly as the original does.
const http = require('node:http')

const CONTENDERS = ['leanrt', 'orig', 'orig-ws8']

/** GET {router}/v1/route and hand the parsed reply to cb, or emit `error` like 2.4.0. */
function routeVia(router) {
  return function getServer(cache, options, callback) {
    const url = `${router}/v1/route?_t=${Date.now()}&appId=${options.appId}${options.secure ? '&secure=1' : ''}`
    http
      .get(url, (res) => {
        let body = ''
        res.setEncoding('utf8')
        res.on('data', (c) => (body += c))
        res.on('end', () => {
          let data = null
          try {
            data = res.statusCode === 200 ? JSON.parse(body) : null
          } catch {}
          if (!data) return cache.ec.emit('error')
          data.expires = Date.now() + data.ttl * 1000
          cache.server = data
          callback(data)
        })
      })
      .on('error', () => cache.ec.emit('error'))
  }
}

/**
 * Returns `connect(options, cb)`: `realtime(options, cb)` of the named contender,
 * aimed at `router` (an http base URL of leanrt-server).
 */
/**
 * `ws8`: no SDK, a plain `ws` 8 socket logged in with one `session open` frame: the
 * floor an SDK on `ws` cannot go below (used for memory only).
 */
function plainWs(router) {
  const WebSocket = require('ws')
  const getServer = routeVia(router)
  return (options, cb) => {
    const cache = { ec: { emit() {} } }
    getServer(cache, { appId: options.appId }, (route) => {
      const ws = new WebSocket(route.server)
      ws.on('open', () => ws.send(JSON.stringify({ cmd: 'session', op: 'open', appId: options.appId, peerId: options.clientId, i: 1 })))
      ws.on('message', (data) => {
        if (JSON.parse(data).op === 'opened' && cb) cb(ws)
      })
    })
  }
}

function load(name, router) {
  if (name === 'ws8') return plainWs(router)
  if (name === 'leanrt') {
    const realtime = require('..')
    return (options, cb) => realtime({ ...options, router }, cb)
  }
  if (name !== 'orig' && name !== 'orig-ws8') throw new Error(`unknown contender ${name}`)
  const realtime = require('leancloud-realtime')
  realtime._engine.getServer = routeVia(router)
  if (name === 'orig-ws8') realtime.config({ WebSocket: require('ws') })
  return (options, cb) => realtime(options, cb)
}

module.exports = { CONTENDERS, load }
