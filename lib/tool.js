'use strict'
// `realtime._tool`: the helpers of 2.4.0 that apps reach for.
const eventCenter = require('./eventcenter')

const hasOwn = Object.prototype.hasOwnProperty

function isPlainObject(obj) {
  if (!obj || Object.prototype.toString.call(obj) !== '[object Object]') return false
  const proto = Object.getPrototypeOf(obj)
  return proto === null || proto === Object.prototype || hasOwn.call(obj, 'constructor')
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

/** Escapes `&`, `<`, `>` in a string, or recursively, in place, in an object. */
function encodeHTML(source) {
  if (typeof source === 'object') {
    for (const key in source) source[key] = encodeHTML(source[key])
    return source
  }
  return encodeString(source)
}

module.exports = {
  extend,
  eventCenter,
  noop() {},
  /** Whether the text looks like a JSON object: `/^\{.*\}$/`. */
  isJSONString(obj) {
    return /^\{.*\}$/.test(obj)
  },
  now() {
    return Date.now()
  },
  encodeHTML,
}
