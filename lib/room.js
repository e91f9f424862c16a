'use strict'
// RoomObject (protocol.md §8.4): one conversation, as 2.4.0's `newConvObject`.
const engine = require('./engine')
const { onReply } = require('./replies')

function newConvObject(cache) {
  function addOrRemove(cid, argument, callback, cmd) {
    const members = typeof argument === 'string' ? [argument] : argument
    const options = { cid, members, serialId: engine.getSerialId(cache) }
    // As 2.4.0: the request first (an auth denial thrown synchronously leaves no listener).
    if (cmd === 'add') engine.convAdd(cache, options)
    else engine.convRemove(cache, options)
    onReply(cache, cmd === 'add' ? 'conv-added' : 'conv-removed', options.serialId, callback)
  }

  return {
    id: '',
    attr: {},
    add(argument, callback) {
      addOrRemove(this.id, argument, callback, 'add')
      return this
    },
    remove(argument, callback) {
      addOrRemove(this.id, argument, callback, 'remove')
      return this
    },
    join(callback) {
      this.add(cache.options.peerId, callback)
      return this
    },
    leave(callback) {
      this.remove(cache.options.peerId, callback)
      return this
    },
    send(data, argument1, argument2) {
      let callback
      let options = {}
      // Two arguments: the second is the callback. Three: options, then callback.
      if (arguments.length === 2) callback = argument1
      else if (arguments.length === 3) {
        options = argument1
        callback = argument2
      }
      options.cid = this.id
      options.serialId = engine.getSerialId(cache)
      if (options.type) options.data = engine.setMediaMsg(cache, options.type, data)
      else options.data = typeof data === 'string' ? data : JSON.stringify(data)
      if (options.receipt) options.receipt = 1
      // The server never acks a transient message, so its callback never fires.
      if (!options.transient) onReply(cache, 'ack', options.serialId, (ack) => callback && callback(ack))
      engine.send(cache, options, callback)
      return this
    },
    log(argument, callback) {
      let options = {}
      if (arguments.length === 1) callback = argument
      else if (arguments.length === 2) options = argument
      options.cid = options.cid || this.id
      options.serialId = options.serialId || engine.getSerialId(cache)
      onReply(cache, 'logs', options.serialId, (data) => {
        if (!callback) return
        const logs = Array.isArray(data.logs) ? data.logs : []
        for (const item of logs) {
          item.data = engine.getMediaMsg(cache, item.data)
          item.fromPeerId = item.from
          item.msg = item.data
        }
        callback(logs)
      })
      engine.convLog(cache, options)
      return this
    },
    receive(callback) {
      const id = this.id
      cache.ec.on('message', function (data) {
        if (id === data.cid) callback(data)
      })
      return this
    },
    receipt(callback) {
      const id = this.id
      cache.ec.on('receipt', function (data) {
        if (id === data.cid) callback(data)
      })
      return this
    },
    list(callback) {
      const options = { where: { objectId: this.id }, serialId: engine.getSerialId(cache) }
      onReply(cache, 'conv-results', options.serialId, (data) => {
        if (!callback) return
        const results = Array.isArray(data.results) ? data.results : []
        callback(results.length ? results[0].m : [])
      })
      engine.convQuery(cache, options)
      return this
    },
    count(callback) {
      const options = { cid: this.id, serialId: engine.getSerialId(cache) }
      onReply(cache, 'conv-result', options.serialId, (data) => callback && callback(data.count))
      engine.convCount(cache, options)
      return this
    },
    update(data, callback) {
      const options = { cid: this.id, data, serialId: engine.getSerialId(cache) }
      onReply(cache, 'conv-updated', options.serialId, callback)
      engine.convUpdate(cache, options)
      return this
    },
  }
}

module.exports = { newConvObject }
