'use strict'
// LeanrtError: what the awaitable API (leanrt/promises) rejects with.

/**
 * A failed request or login. `code` is the server's code (4401, 4102, …) or a local one:
 * 'TIMEOUT', 'ABORTED', 'CLOSED', 'CONNECT_FAILED'. `reason` and `detail` are the
 * server's; `frame` is the frame that refused (an error frame, an ack, a `session closed`).
 */
class LeanrtError extends Error {
  constructor(code, message, { reason, detail, frame, cause } = {}) {
    super(message, cause === undefined ? undefined : { cause })
    this.name = 'LeanrtError'
    this.code = code
    this.reason = reason
    this.detail = detail
    this.frame = frame
  }

  /** The error a server frame carrying `code` and `reason` stands for. */
  static fromFrame(frame) {
    const { code, reason, detail } = frame
    return new LeanrtError(code, `${code} ${reason}${detail ? ': ' + detail : ''}`, { reason, detail, frame })
  }
}

module.exports = { LeanrtError }
