'use strict'
// The event center of 2.4.0 (`_tool.eventCenter()`, protocol.md §8.6), ported line by line
// so that even re-entrant cases behave the same: names split on whitespace for on/once,
// regular listeners run before once-listeners (`this` = the event center), off removes
// the first identical registration on exactly that name, emit does not split, a
// listener's exception propagates out of emit, and the list is re-read by index during
// an emit (so `off` and nested emits inside a listener act as in 2.4.0).
// One deviation: `_one` skips the slots `off` emptied instead of throwing a TypeError.

function eventCenter() {
  const eventList = {}
  const eventOnceList = {}

  function _on(eventName, fun, options) {
    if (!eventName) {
      throw new Error('No event name.')
    } else if (!fun) {
      throw new Error('No callback function.')
    }
    // As 2.4.0: a non-string name is a TypeError here.
    const list = eventName.split(/\s+/)
    const isOnce = Boolean(options && options.once)
    const isSingle = Boolean(options && options.single)
    const tempList = isOnce ? eventOnceList : eventList
    for (let i = 0, l = list.length; i < l; i++) {
      if (!list[i]) continue
      let itemEventList = tempList[list[i]]
      if (!itemEventList) {
        itemEventList = []
        tempList[list[i]] = itemEventList
      }
      if (isSingle) {
        let found = false
        for (let m = 0, n = itemEventList.length; m < n; m++) {
          if (itemEventList[m] && itemEventList[m].toString() === fun.toString()) {
            found = true
            break
          }
        }
        if (!found) itemEventList.push(fun)
      } else {
        itemEventList.push(fun)
      }
    }
  }

  function _off(eventName, fun, options) {
    const tempList = options && options.once ? eventOnceList : eventList
    const listeners = tempList[eventName]
    if (listeners) {
      for (let i = 0, l = listeners.length; i < l; i++) {
        if (listeners[i] === fun) {
          listeners[i] = null
          // Only the first identical registration.
          break
        }
      }
    }
  }

  // 2.4.0's cleanNull: an empty list becomes null; a list of emptied slots becomes [].
  function cleanNull(list) {
    const l = list.length
    if (!l) return null
    const tempList = []
    for (let i = 0; i < l; i++) {
      if (list[i]) tempList.push(list[i])
    }
    return tempList
  }

  return {
    on(eventName, fun) {
      _on(eventName, fun)
      return this
    },
    once(eventName, fun) {
      _on(eventName, fun, { once: true })
      return this
    },
    // Adds fun only if no listener with the same source text is registered.
    _one(eventName, fun) {
      _on(eventName, fun, { single: true })
    },
    emit(eventName, data) {
      if (!eventName) {
        throw new Error('No emit event name.')
      }
      let i
      let l
      if (eventList[eventName]) {
        // Listeners added during this emit are not called in this round (l is fixed).
        for (i = 0, l = eventList[eventName].length; i < l; i++) {
          if (eventList[eventName][i]) {
            eventList[eventName][i].call(this, data)
          }
        }
        eventList[eventName] = cleanNull(eventList[eventName])
      }
      if (eventOnceList[eventName]) {
        for (i = 0, l = eventOnceList[eventName].length; i < l; i++) {
          if (eventOnceList[eventName][i]) {
            eventOnceList[eventName][i].call(this, data)
            _off(eventName, eventOnceList[eventName][i], { once: true })
          }
        }
        eventOnceList[eventName] = cleanNull(eventOnceList[eventName])
      }
      return this
    },
    off(eventName, fun) {
      _off(eventName, fun)
      return this
    },
  }
}

module.exports = eventCenter
