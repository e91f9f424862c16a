'use strict'
// Room: an awaitable RoomObject. Each method makes the callback call and settles with what
// its callback gets. Request options (`timeout`, `signal`) go with the call's own options
// (send, log) or come last.
const { LeanrtError } = require('./errors')

class Room {
  #requests

  /** `callbacks`: the RoomObject; `requests`: its client's Requests. */
  constructor(callbacks, requests) {
    this.callbacks = callbacks
    this.#requests = requests
  }

  get id() {
    return this.callbacks.id
  }

  get name() {
    return this.callbacks.name
  }

  get attr() {
    return this.callbacks.attr
  }

  /**
   * Resolves with the ack; an ack carrying `code` rejects. A transient send gets no ack
   * from the server: it resolves (with nothing) once handed to the connection.
   */
  send(data, options) {
    return this.#requests.send(options, (settle, sendOptions) => {
      if (!sendOptions.transient) {
        return this.callbacks.send(data, sendOptions, (ack) =>
          ack.code === undefined ? settle.resolve(ack) : settle.reject(LeanrtError.fromFrame(ack)),
        )
      }
      this.callbacks.send(data, sendOptions, undefined)
      settle.resolve()
    })
  }

  add(clientIds, options) {
    return this.#requests.send(options, (settle) => this.callbacks.add(clientIds, settle.resolve))
  }

  remove(clientIds, options) {
    return this.#requests.send(options, (settle) => this.callbacks.remove(clientIds, settle.resolve))
  }

  join(options) {
    return this.#requests.send(options, (settle) => this.callbacks.join(settle.resolve))
  }

  leave(options) {
    return this.#requests.send(options, (settle) => this.callbacks.leave(settle.resolve))
  }

  log(options) {
    return this.#requests.send(options, (settle, logOptions) => this.callbacks.log(logOptions, settle.resolve))
  }

  list(options) {
    return this.#requests.send(options, (settle) => this.callbacks.list(settle.resolve))
  }

  count(options) {
    return this.#requests.send(options, (settle) => this.callbacks.count(settle.resolve))
  }

  update(data, options) {
    return this.#requests.send(options, (settle) => this.callbacks.update(data, settle.resolve))
  }
}

module.exports = { Room }
