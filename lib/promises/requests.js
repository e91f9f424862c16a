'use strict'
// The requests of one client that wait for their reply, by serial id: the server refuses
// a request with an error frame carrying its `i` (`{cmd: 'error', i, code, reason}`, which
// the callback API emits as the `error` event), and that rejects the request's promise.
const { LeanrtError } = require('./errors')
const { withDeadline } = require('./deadline')

class Requests {
  /** `callbacks`: the RealtimeObject; `timeout`: the default time limit (ms); `flow`: its flow control. */
  constructor(callbacks, timeout, flow) {
    this.callbacks = callbacks
    this.timeout = timeout
    this.flow = flow
    this.waiting = new Map()
    callbacks.on('error', (frame) => {
      const settle = frame && this.waiting.get(frame.i)
      if (settle && frame.code !== undefined) settle.reject(LeanrtError.fromFrame(frame))
    })
  }

  /**
   * Runs `start(settle, rest)`, a callback-API call whose callback settles; `options` are
   * `timeout` and `signal`, and `rest` the other keys (a copy, for the callback API). The
   * call's serial id is `cache.serialId` right after it (every call takes its id
   * synchronously). While it waits, the socket is read even past a high-water mark. A
   * closed client rejects with 'CLOSED' at once.
   */
  send(options, start) {
    const { timeout = this.timeout, signal, ...rest } = options || {}
    return withDeadline({ timeout, signal }, (settle) => {
      const cache = this.callbacks.cache
      if (cache.closeFlag) throw new LeanrtError('CLOSED', 'the client is closed')
      start(settle, rest)
      if (settle.settled) return
      const i = cache.serialId
      this.waiting.set(i, settle)
      this.flow.waiting(1)
      settle.onSettled(() => {
        if (this.waiting.get(i) === settle) this.waiting.delete(i)
        this.flow.waiting(-1)
      })
    })
  }

  /** Rejects every waiting request with 'CLOSED'. */
  closeAll() {
    for (const settle of this.waiting.values()) settle.reject(new LeanrtError('CLOSED', 'the client was closed'))
  }
}

module.exports = { Requests }
