'use strict'
// Flow control of one client: its socket is not read while one of its message streams
// holds more than its high-water mark (`realtime._engine.pause(cache, paused)`, where the
// engine has it), unless a request waits for its reply, which is behind those messages.
const engine = require('../engine')

/** `hold`/`release` by streams over their mark, `waiting(±1)` by requests waiting for a reply. */
function flow(cache) {
  let holds = 0
  let waits = 0
  let paused = false
  const update = () => {
    const pause = holds > 0 && waits === 0
    if (pause === paused) return
    paused = pause
    if (typeof engine.pause === 'function') engine.pause(cache, pause)
  }
  return {
    hold() {
      holds++
      update()
    },
    release() {
      holds--
      update()
    },
    waiting(delta) {
      waits += delta
      update()
    },
  }
}

module.exports = { flow }
