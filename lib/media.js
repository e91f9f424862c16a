'use strict'
// The `_lc*` media-message codec of 2.4.0 (protocol.md §7), with two fixes:
// unparsable `{…}` text is plain text (§9.7), and file messages keep url/objId (§9.8).
const tool = require('./tool')

const TYPES = { '-1': 'text', '-2': 'image', '-3': 'audio', '-4': 'video', '-5': 'location', '-6': 'file' }

function plain(cache, msg) {
  return cache.options.encodeHTML ? tool.encodeHTML(msg) : msg
}

/** Decodes a received `msg` (or a log item's `data`). */
function getMediaMsg(cache, msg) {
  if (!tool.isJSONString(msg)) return plain(cache, msg)
  let parsed
  try {
    parsed = JSON.parse(msg)
  } catch (_) {
    return plain(cache, msg)
  }
  if (!Object.prototype.hasOwnProperty.call(parsed, '_lctype')) return parsed
  const type = TYPES[parsed._lctype]
  if (typeof parsed._lctype !== 'number' || !type) return parsed
  const obj = { text: parsed._lctext, attr: parsed._lcattrs }
  if (cache.options.encodeHTML) obj.text = tool.encodeHTML(parsed._lctext)
  if (parsed._lcfile && parsed._lcfile.url) obj.url = parsed._lcfile.url
  if (parsed._lcfile && parsed._lcfile.metaData) obj.metaData = parsed._lcfile.metaData
  obj.type = type
  if (type === 'location' && parsed._lcloc) obj.location = parsed._lcloc
  return obj
}

function fileOf(data, keys) {
  const metaData = {}
  for (const key of keys) metaData[key] = data.metaData[key]
  return { url: data.url, objId: data.objectId, metaData }
}

/** Encodes `send(data, {type})`; `undefined` for an unknown type, as 2.4.0. */
function setMediaMsg(cache, type, data) {
  if (type !== 'text' && !data.metaData) {
    throw new Error('Media Data must have metaData attribute.')
  }
  const head = (lctype) => ({ _lctype: lctype, _lctext: data.text, _lcattrs: data.attr })
  let obj
  switch (type) {
    case 'text':
      obj = head(-1)
      break
    case 'image':
      obj = { ...head(-2), _lcfile: fileOf(data, ['name', 'format', 'height', 'width', 'size']) }
      break
    case 'audio':
      obj = { ...head(-3), _lcfile: fileOf(data, ['name', 'format', 'duration', 'size']) }
      break
    case 'video':
      obj = { ...head(-4), _lcfile: fileOf(data, ['name', 'format', 'duration', 'size']) }
      break
    case 'location':
      obj = { ...head(-5), _lcloc: { longitude: data.metaData.longitude, latitude: data.metaData.latitude } }
      break
    case 'file':
      obj = {
        ...head(-6),
        _lcfile: { url: data.url, objId: data.objectId, name: data.metaData.name, size: data.metaData.size },
      }
      break
  }
  return JSON.stringify(obj)
}

module.exports = { getMediaMsg, setMediaMsg }
