'use strict'
// The event center of 2.4.0 (`_tool.eventCenter()`), same semantics (protocol.md §8.6):
// names split on whitespace for on/once, regular listeners run before once-listeners,
// off removes the first identical registration on exactly that name, emit does not
// split, and a listener's exception propagates out of emit.

function eventCenter() {
  const regular = {}
  const onceOnly = {}

  function add(names, fn, list, single) {
    if (!names) throw new Error('No event name.')
    if (!fn) throw new Error('No callback function.')
    for (const name of String(names).split(/\s+/)) {
      if (!name) continue
      const listeners = list[name] || (list[name] = [])
      if (single && listeners.some((f) => f && String(f) === String(fn))) continue
      listeners.push(fn)
    }
  }

  function remove(name, fn, list) {
    const listeners = list[name]
    if (!listeners) return
    const at = listeners.indexOf(fn)
    if (at !== -1) listeners[at] = null
  }

  function compact(list, name) {
    const left = list[name].filter(Boolean)
    list[name] = left.length ? left : null
  }

  return {
    on(names, fn) {
      add(names, fn, regular, false)
      return this
    },
    once(names, fn) {
      add(names, fn, onceOnly, false)
      return this
    },
    // Adds fn only if no listener with the same source text is registered.
    _one(names, fn) {
      add(names, fn, regular, true)
    },
    emit(name, data) {
      if (!name) throw new Error('No emit event name.')
      const listeners = regular[name]
      if (listeners) {
        // Listeners added during this emit are not called in this round.
        for (let i = 0, l = listeners.length; i < l; i++) {
          if (listeners[i]) listeners[i].call(this, data)
        }
        compact(regular, name)
      }
      const once = onceOnly[name]
      if (once) {
        for (let i = 0, l = once.length; i < l; i++) {
          const fn = once[i]
          if (fn) {
            fn.call(this, data)
            remove(name, fn, onceOnly)
          }
        }
        compact(onceOnly, name)
      }
      return this
    },
    off(name, fn) {
      remove(name, fn, regular)
      return this
    },
  }
}

module.exports = eventCenter
