'use strict'
// Per-client traces of callbacks and events, and their normalization, for the differential
// suite (the same scenario run against the original 2.4.0 and against leanrt).
//
// A Trace holds entries {client, kind, data} in record order. `data` is deep-copied when it is
// recorded (2.4.0 mutates payloads later, e.g. log items), with functions as '<fn>' and
// `undefined` kept as the string '<undefined>' so that "cb(undefined)" and "cb()" stay visible.
//
// normalize(trace, {prefix}) returns { [client]: [[kind, data], ...] } where:
// - the run prefix of client ids is removed from every string ('r3_alice' -> 'alice');
// - opaque ids are replaced by placeholders in order of first appearance (clients visited in
//   alphabetical order, entries in record order, object keys in sorted order), one map per
//   value, so the same cid or message id gets the same placeholder everywhere:
//     conversation ids (keys cid, objectId, convId, roomId, and RoomObject ids) -> '<C1>', ...
//     message ids (keys id, uid, mid, msgId, msg_mid)                        -> '<M1>', ...
//     generated peer ids (peerId values that do not carry the run prefix)      -> '<P1>', ...
//   and afterwards any string equal to a known id is replaced too (ids inside arrays, `$in`);
// - times (keys t, timestamp, ackAt, msg_timestamp, cdate, udate, createdAt, updatedAt, lm,
//   expires) become '<time>' (numbers, ISO strings and {__type:'Date'} objects alike);
// - `i` serial ids are kept: both implementations must number requests identically.
const CONV_KEYS = new Set(['cid', 'objectId', 'convId', 'roomId'])
const MSG_KEYS = new Set(['id', 'uid', 'mid', 'msgId', 'msg_mid'])
const TIME_KEYS = new Set(['t', 'timestamp', 'ackAt', 'msg_timestamp', 'cdate', 'udate',
  'createdAt', 'updatedAt', 'lm', 'expires', 'patch_timestamp'])

function copy (v, seen = new Set()) {
  if (v === undefined) return '<undefined>'
  if (typeof v === 'function') return '<fn>'
  if (typeof v === 'bigint') return String(v)
  if (v === null || typeof v !== 'object') return v
  if (seen.has(v)) return '<cycle>'
  seen.add(v)
  let out
  if (Array.isArray(v)) {
    out = v.map((x) => copy(x, seen))
  } else {
    out = {}
    for (const k of Object.keys(v)) out[k] = copy(v[k], seen)
  }
  seen.delete(v)
  return out
}

class Trace {
  constructor () {
    this.entries = []
  }

  rec (client, kind, data) {
    this.entries.push({ client, kind, data: arguments.length >= 3 ? copy(data) : null })
  }

  count (client, kind) {
    let n = 0
    for (const e of this.entries) if (e.client === client && e.kind === kind) n++
    return n
  }

  of (client, kind) {
    return this.entries.filter((e) => e.client === client && (kind === undefined || e.kind === kind))
  }

  clients () {
    return [...new Set(this.entries.map((e) => e.client))].sort()
  }
}

function normalize (trace, opts = {}) {
  const prefix = opts.prefix || ''
  const map = new Map()
  const counters = { C: 0, M: 0, P: 0 }
  const assign = (value, cls) => {
    if (typeof value !== 'string' || value === '' || value === '<undefined>') return
    if (!map.has(value)) map.set(value, `<${cls}${++counters[cls]}>`)
  }
  const strip = (s) => (prefix && typeof s === 'string' ? s.split(prefix).join('') : s)

  // Pass 1: assign placeholders in a deterministic order.
  const visit = (v, key) => {
    if (Array.isArray(v)) {
      for (const x of v) visit(x, key)
      return
    }
    if (v && typeof v === 'object') {
      if (v.__room === true) assign(v.id, 'C')
      for (const k of Object.keys(v).sort()) visit(v[k], k)
      return
    }
    if (typeof v !== 'string') return
    if (CONV_KEYS.has(key)) assign(v, 'C')
    else if (MSG_KEYS.has(key)) assign(v, 'M')
    else if (key === 'peerId' && prefix && !v.includes(prefix)) assign(v, 'P')
  }
  const clients = trace.clients()
  for (const c of clients) for (const e of trace.of(c)) visit(e.data, null)

  // Pass 2: rewrite.
  const rewrite = (v, key) => {
    if (TIME_KEYS.has(key) && v !== '<undefined>' && v !== null) {
      if (typeof v === 'number' || typeof v === 'string') return '<time>'
      if (v && typeof v === 'object' && v.__type === 'Date') return '<time>'
    }
    if (Array.isArray(v)) return v.map((x) => rewrite(x, key))
    if (v && typeof v === 'object') {
      const out = {}
      for (const k of Object.keys(v).sort()) out[strip(k)] = rewrite(v[k], k)
      return out
    }
    if (typeof v === 'string') {
      if (map.has(v)) return map.get(v)
      return strip(v)
    }
    return v
  }
  const out = {}
  for (const c of clients) {
    out[strip(c)] = trace.of(c).map((e) => [e.kind, rewrite(e.data, null)])
  }
  return out
}

module.exports = { Trace, normalize, copy }
