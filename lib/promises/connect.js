'use strict'
// `connect(options)`: `realtime(options)`, awaited until its first `open`.
const realtime = require('../../index')
const { LeanrtError } = require('./errors')
const { withDeadline } = require('./deadline')
const { Realtime } = require('./client')

const DEFAULT_TIMEOUT = 30000

/**
 * Resolves with a Realtime at the first `open`. Rejects with realtime()'s own Error for
 * bad options; with the server's refusal of the login (`session closed` or an error
 * frame: its code and reason); with 'CONNECT_FAILED' at a router or socket failure; with
 * 'TIMEOUT' or 'ABORTED'. A client that did not open is destroyed. `timeout` (ms, default
 * 30000) is also the default of the client's requests.
 */
function connect(options) {
  const { timeout = DEFAULT_TIMEOUT, signal } = options || {}
  return withDeadline({ timeout, signal }, (settle) => {
    const callbacks = realtime(options)
    const rt = new Realtime(callbacks, timeout)
    const opened = () => settle.resolve(rt)
    const refused = (data) => settle.reject(refusal(data))
    callbacks.on('open', opened).on('error', refused).on('session-closed', refused)
    settle.onSettled((error) => {
      callbacks.off('open', opened).off('error', refused).off('session-closed', refused)
      if (error) callbacks.destroy()
    })
  })
}

/** The LeanrtError of an `error` or `session-closed` before the first `open`. */
function refusal(data) {
  if (data && !(data instanceof Error) && data.code !== undefined) return LeanrtError.fromFrame(data)
  const message = data instanceof Error ? data.message : 'connection failed'
  return new LeanrtError('CONNECT_FAILED', message, { cause: data })
}

module.exports = { connect }
