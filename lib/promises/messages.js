'use strict'
// `rt.messages()`: a client's `message` events as an async iterator, with a bounded buffer.
const { LeanrtError } = require('./errors')

const DEFAULT_HIGH_WATER_MARK = 1000

/**
 * Yields the `message` events in order. When more than `highWaterMark` wait unread it
 * holds `flow` (the socket pauses), and releases it at half of that. `return()` (a
 * `break`) ends at once; `end()` (rt.close()) after the buffered messages; an aborted
 * `signal` rejects the next read with 'ABORTED'. A stream is in `streams` (its client's
 * set) until it ends; ending removes the listener and releases `flow`.
 */
class MessageStream {
  #callbacks
  #flow
  #signal
  #highWaterMark
  #streams
  #buffer = []
  /** The `next()` waiting for a message: {resolve, reject}. */
  #reader = null
  #paused = false
  #ended = false
  #failure = null

  constructor(callbacks, flow, { signal, highWaterMark = DEFAULT_HIGH_WATER_MARK } = {}, streams) {
    if (!(Number.isInteger(highWaterMark) && highWaterMark > 0)) {
      throw new RangeError(`highWaterMark must be a positive integer: ${highWaterMark}`)
    }
    this.#callbacks = callbacks
    this.#flow = flow
    this.#signal = signal
    this.#highWaterMark = highWaterMark
    this.#streams = streams
    streams.add(this)
    callbacks.on('message', this.#onMessage)
    if (signal && signal.aborted) this.#onAbort()
    else if (signal) signal.addEventListener('abort', this.#onAbort, { once: true })
  }

  [Symbol.asyncIterator]() {
    return this
  }

  next() {
    if (this.#buffer.length) {
      const value = this.#buffer.shift()
      if (this.#paused && this.#buffer.length <= this.#highWaterMark / 2) this.#resume()
      return Promise.resolve({ value, done: false })
    }
    const failure = this.#failure
    this.#failure = null
    if (failure) return Promise.reject(failure)
    if (this.#ended) return Promise.resolve({ value: undefined, done: true })
    return new Promise((resolve, reject) => (this.#reader = { resolve, reject }))
  }

  /** Ends at once, dropping what is buffered (what a `break` out of `for await` calls). */
  return() {
    this.#buffer.length = 0
    this.end()
    return Promise.resolve({ value: undefined, done: true })
  }

  /** Ends after the buffered messages, or with `failure` (thrown by the next read) at once. */
  end(failure) {
    if (this.#ended) return
    this.#ended = true
    this.#callbacks.off('message', this.#onMessage)
    if (this.#signal) this.#signal.removeEventListener('abort', this.#onAbort)
    if (this.#paused) this.#resume()
    this.#streams.delete(this)
    const reader = this.#reader
    this.#reader = null
    if (failure) this.#buffer.length = 0
    if (reader && failure) reader.reject(failure)
    else if (reader) reader.resolve({ value: undefined, done: true })
    else this.#failure = failure || null
  }

  #resume() {
    this.#paused = false
    this.#flow.release()
  }

  #onMessage = (message) => {
    const reader = this.#reader
    this.#reader = null
    if (reader) return reader.resolve({ value: message, done: false })
    this.#buffer.push(message)
    if (!this.#paused && this.#buffer.length > this.#highWaterMark) {
      this.#paused = true
      this.#flow.hold()
    }
  }

  #onAbort = () => this.end(new LeanrtError('ABORTED', 'aborted', { cause: this.#signal.reason }))
}

module.exports = { MessageStream }
