'use strict'
// `realtime._tool`: the helpers of 2.4.0 (`{ajax, extend, eventCenter, noop, isJSONString,
// now, encodeHTML}`), the same functions in the same key order.
const ajax = require('./ajax')
const eventCenter = require('./eventcenter')

const hasOwn = Object.prototype.hasOwnProperty
const toStr = Object.prototype.toString

// 2.4.0's (jQuery's older) test, kept as is: an object whose prototype chain ends in
// Object.prototype through plain objects counts, unless it inherits enumerable keys.
function isPlainObject(obj) {
  if (!obj || toStr.call(obj) !== '[object Object]') return false
  const hasOwnConstructor = hasOwn.call(obj, 'constructor')
  const hasIsPrototypeOf =
    obj.constructor && obj.constructor.prototype && hasOwn.call(obj.constructor.prototype, 'isPrototypeOf')
  if (obj.constructor && !hasOwnConstructor && !hasIsPrototypeOf) return false
  let key
  for (key in obj) {
    /* find the last key */
  }
  return typeof key === 'undefined' || hasOwn.call(obj, key)
}

/** jQuery-style extend; deep when the first argument is `true`. Undefined values are skipped. */
function extend(...args) {
  let target = args[0]
  let i = 1
  let deep = false
  if (typeof target === 'boolean') {
    deep = target
    target = args[1] || {}
    i = 2
  } else if ((typeof target !== 'object' && typeof target !== 'function') || target === null) {
    target = {}
  }
  for (; i < args.length; i++) {
    const source = args[i]
    if (source === null || source === undefined) continue
    for (const name in source) {
      const src = target[name]
      const copy = source[name]
      if (target === copy) continue
      const copyIsArray = Array.isArray(copy)
      if (deep && copy && (isPlainObject(copy) || copyIsArray)) {
        const base = copyIsArray ? (Array.isArray(src) ? src : []) : isPlainObject(src) ? src : {}
        target[name] = extend(deep, base, copy)
      } else if (copy !== undefined) {
        target[name] = copy
      }
    }
  }
  return target
}

function encodeString(str) {
  return typeof str === 'string' ? str.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;') : str
}

const tool = {
  ajax,
  extend,
  eventCenter,
  noop() {},
  /** Whether the text looks like a JSON object: `/^\{.*\}$/` (`.` excludes newlines). */
  isJSONString(obj) {
    return /^\{.*\}$/.test(obj)
  },
  now() {
    return new Date().getTime()
  },
  /**
   * Escapes `&`, then `<`, then `>` in a string (quotes untouched); objects and arrays are
   * encoded recursively in place (through `tool.encodeHTML`, as 2.4.0) and returned.
   */
  encodeHTML(source) {
    if (typeof source === 'object') {
      for (const key in source) source[key] = tool.encodeHTML(source[key])
      return source
    }
    return encodeString(source)
  },
}

module.exports = tool
