'use strict'
// Realtime: an awaitable RealtimeObject, what `connect()` resolves with.
const { Requests } = require('./requests')
const { Room } = require('./room')
const { MessageStream } = require('./messages')
const { flow } = require('./flow')

class Realtime {
  #requests
  #flow
  /** The Room of each RoomObject, so that a room fetched twice is one object. */
  #rooms = new WeakMap()
  #streams = new Set()
  /** Between `open` and `close`: a socket is up, so close() will get a `close` event. */
  #online = false
  #finished = false
  #closed = null
  #resolveClosed = null

  /** `callbacks`: the RealtimeObject underneath; `timeout`: the requests' default (ms). */
  constructor(callbacks, timeout) {
    this.callbacks = callbacks
    this.#flow = flow(callbacks.cache)
    this.#requests = new Requests(callbacks, timeout, this.#flow)
    callbacks.on('open', () => (this.#online = true))
    callbacks.on('close', () => {
      this.#online = false
      if (callbacks.cache.closeFlag) this.#finish()
    })
  }

  /** The clientId logged in with (for an anonymous client, the one the server gave). */
  get clientId() {
    return this.callbacks.cache.options.peerId
  }

  /** `room(id)`: the conversation, or `null`; `room(options)` creates one. */
  room(argument, options) {
    if (typeof argument === 'string') {
      return this.#requests.send(options, (settle) =>
        this.callbacks.room(argument, (found) => settle.resolve(found && this.#room(found))),
      )
    }
    return this.#requests.send(argument, (settle, roomOptions) =>
      this.callbacks.room(roomOptions, (created) => settle.resolve(this.#room(created))),
    )
  }

  query(options) {
    return this.#requests.send(options, (settle, queryOptions) => this.callbacks.query(queryOptions, settle.resolve))
  }

  ping(clientIds, options) {
    return this.#requests.send(options, (settle) => this.callbacks.ping(clientIds, settle.resolve))
  }

  /** The `message` events, as an async iterator (lib/promises/messages.js). */
  messages(options) {
    const stream = new MessageStream(this.callbacks, this.#flow, options, this.#streams)
    if (this.#finished) stream.end()
    return stream
  }

  /**
   * Closes the client for good. Resolves once its socket is closed (at once when it was
   * offline); then the requests still waiting reject with 'CLOSED' and the message
   * streams end.
   */
  close() {
    if (!this.#closed) {
      this.#closed = new Promise((resolve) => (this.#resolveClosed = resolve))
      const online = this.#online
      this.callbacks.destroy()
      if (!online) this.#finish()
    }
    return this.#closed
  }

  on(names, listener) {
    this.callbacks.on(names, listener)
    return this
  }

  once(names, listener) {
    this.callbacks.once(names, listener)
    return this
  }

  off(name, listener) {
    this.callbacks.off(name, listener)
    return this
  }

  /** The socket of a closed client is gone (a `close` after `close()` or `destroy()`). */
  #finish() {
    this.#finished = true
    this.#requests.closeAll()
    for (const stream of this.#streams) stream.end()
    if (this.#resolveClosed) this.#resolveClosed()
  }

  #room(roomObject) {
    let room = this.#rooms.get(roomObject)
    if (!room) this.#rooms.set(roomObject, (room = new Room(roomObject, this.#requests)))
    return room
  }
}

module.exports = { Realtime }
