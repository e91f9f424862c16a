'use strict'
// RealtimeObject (protocol.md §8.3), as 2.4.0's `newRealtimeObject`.
const engine = require('./engine')
const { newConvObject } = require('./room')
const { onReply } = require('./replies')

const NOT_OPEN = 'Must call after open() has successed.'

function requireOpen(cache) {
  if (!cache.openFlag) throw new Error(NOT_OPEN)
}

function newRealtimeObject() {
  const cache = {
    options: undefined,
    ws: undefined,
    ec: undefined,
    conv: {},
    openFlag: false,
    closeFlag: false,
    reuseFlag: false,
    serialId: 2015,
  }

  return {
    clientId: '',
    cache,
    open(callback) {
      const cache = this.cache
      cache.closeFlag = false
      engine.connect(cache)
      if (callback) cache.ec.once('open', callback)
      return this
    },
    close() {
      const cache = this.cache
      requireOpen(cache)
      if (!cache.closeFlag) {
        cache.closeFlag = true
        engine.closeConnection(cache)
      }
      return this
    },
    /**
     * leanrt's addition: stops this client for good, opened or not. After the first
     * open it is close(); before it (where close() throws, as in 2.4.0) it stops the
     * reconnect attempts at once.
     */
    destroy() {
      const cache = this.cache
      if (!cache.closeFlag) {
        cache.closeFlag = true
        engine.closeConnection(cache)
      }
      return this
    },
    on(eventName, callback) {
      this.cache.ec.on(eventName, callback)
      return this
    },
    once(eventName, callback) {
      this.cache.ec.once(eventName, callback)
      return this
    },
    emit(eventName, data) {
      this.cache.ec.emit(eventName, data)
      return this
    },
    off(eventName, callback) {
      this.cache.ec.off(eventName, callback)
      return this
    },
    room(argument, callback) {
      const cache = this.cache
      requireOpen(cache)
      if (typeof argument === 'string') {
        const convId = argument
        const convObject = cache.conv[convId] || newConvObject(cache)
        this.query({ where: { objectId: convId } }, function (data) {
          const found = Array.isArray(data) && data.length > 0
          if (found) {
            convObject.id = convId
            convObject.name = data[0].name
            convObject.attr = data[0].attr
            cache.conv[convId] = convObject
          }
          if (callback) callback(found ? convObject : null)
        })
        return convObject
      }
      if (!argument) throw new Error('Createing room must have a callback function.')
      // Fix §9.5: `room(callback)` creates a room with the defaults.
      let given = argument
      if (typeof argument === 'function') {
        callback = argument
        given = {}
      }
      const options = {
        name: given.name || '',
        members: given.members || [],
        attr: given.attr || {},
        transient: given.transient || false,
        unique: given.unique || false,
        serialId: engine.getSerialId(cache),
      }
      const convObject = newConvObject(cache)
      // As 2.4.0: the request first (an auth denial thrown synchronously leaves no listener).
      engine.startConv(cache, options, callback)
      onReply(cache, 'conv-started', options.serialId, function (data) {
        convObject.id = data.cid
        convObject.name = options.name
        convObject.attr = options.attr
        cache.conv[convObject.id] = convObject
        if (callback) callback(convObject)
        cache.ec.emit('create', data)
      })
      return convObject
    },
    conv() {
      return this.room.apply(this, arguments)
    },
    query(argument, callback) {
      const cache = this.cache
      requireOpen(cache)
      let options = {}
      if (arguments.length === 1) callback = argument
      else if (arguments.length === 2) options = argument
      options.serialId = engine.getSerialId(cache)
      options.flag = 0
      if (options.compact) options.flag |= 1
      if (options.withLastMessages) options.flag |= 2
      onReply(cache, 'conv-results', options.serialId, (data) => callback && callback(data.results))
      if (!options.where) options.where = { m: cache.options.peerId }
      engine.convQuery(cache, options)
      return this
    },
    ping(argument, callback) {
      const cache = this.cache
      requireOpen(cache)
      if (!callback) throw new Error('Ping must have callback.')
      const options = {
        serialId: engine.getSerialId(cache),
        peerIdList: typeof argument === 'string' ? [argument] : argument,
      }
      onReply(cache, 'session-query-result', options.serialId, (data) => callback(data.onlineSessionPeerIds))
      engine.querySession(cache, options)
      return this
    },
  }
}

module.exports = { newRealtimeObject }
