'use strict'
// The time limit and the AbortSignal of one awaited operation.
const { LeanrtError } = require('./errors')

const MAX_TIMEOUT = 2 ** 31 - 1

/**
 * Returns a promise that `start(settle)` settles (`settle.resolve`, `settle.reject`; a
 * throw rejects). It rejects with LeanrtError 'TIMEOUT' after `timeout` ms (`Infinity`:
 * never) and 'ABORTED' when `signal` aborts (without starting, if it has already). The
 * first settle wins (`settle.settled`); the timer and the abort listener go with it, and
 * the `settle.onSettled(hook)` hooks run with the error (none on success).
 */
function withDeadline({ timeout, signal }, start) {
  return new Promise((resolve, reject) => {
    const hooks = []
    let timer
    let done = false
    const finish = (error) => {
      if (done) return false
      done = true
      clearTimeout(timer)
      if (signal) signal.removeEventListener('abort', onAbort)
      for (const hook of hooks) hook(error)
      return true
    }
    const settle = {
      resolve: (value) => finish() && resolve(value),
      reject: (error) => finish(error) && reject(error),
      get settled() {
        return done
      },
      onSettled: (hook) => hooks.push(hook),
    }
    const onAbort = () => settle.reject(new LeanrtError('ABORTED', 'aborted', { cause: signal.reason }))
    try {
      if (timeout !== Infinity && !(timeout >= 0 && timeout <= MAX_TIMEOUT)) {
        throw new RangeError(`timeout must be a number of ms up to ${MAX_TIMEOUT}, or Infinity: ${timeout}`)
      }
      if (signal && signal.aborted) return onAbort()
      if (signal) signal.addEventListener('abort', onAbort, { once: true })
      if (timeout !== Infinity) {
        timer = setTimeout(() => settle.reject(new LeanrtError('TIMEOUT', `no answer within ${timeout} ms`)), timeout)
      }
      start(settle)
    } catch (error) {
      settle.reject(error)
    }
  })
}

module.exports = { withDeadline }
