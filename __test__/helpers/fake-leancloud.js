'use strict'
// A local stand-in for LeanCloud's REST API, serving fixture data in the documented
// shapes (../shared/migration.md) on 127.0.0.1:0. Tests never call LeanCloud itself.
//
//   const lc = await fakeLeanCloud({ appId, masterKey, conversations, messages, ... })
//   lc.url, lc.requests (every {method, path, query, headers}), await lc.close()
//
// Served:
// - GET /1.1/classes/_Conversation?count=1&limit=0 -> {results: [], count}
// - GET /1.1/scan/classes/_Conversation?limit&cursor -> objectId order, {results, cursor}
//   (cursor null on the last page)
// - GET /1.2/rtm/messages (app-wide) and /1.2/rtm/{conversations,chatrooms}/{id}/messages:
//   newest first by (timestamp, msg-id); `timestamp`+`msgid` is an exclusive start;
//   `reversed=true` oldest first; `limit` default 100, max 1000
// Options: `appWide: false` makes the app-wide endpoint answer 404 {code, error};
// `failOnce: {'/path#N': status}` answers the Nth request of a path once with status
// (429 carries Retry-After: 1). A missing or wrong master key gets 401
// {"code":401,"error":"Unauthorized."}.
const http = require('node:http')

function newestFirst (a, b) {
  if (a.timestamp !== b.timestamp) return b.timestamp - a.timestamp
  return a['msg-id'] < b['msg-id'] ? 1 : a['msg-id'] > b['msg-id'] ? -1 : 0
}

/** The history page of `records` (any order) for the v1.2 parameters in `q`. */
function historyPage (records, q) {
  const limit = Math.min(Number(q.get('limit') || 100), 1000)
  const reversed = q.get('reversed') === 'true'
  let list = records.slice().sort(newestFirst)
  if (reversed) list.reverse()
  if (q.has('timestamp')) {
    const start = { timestamp: Number(q.get('timestamp')), 'msg-id': q.get('msgid') || '' }
    list = list.filter((r) => (reversed ? newestFirst(start, r) > 0 : newestFirst(start, r) < 0))
  }
  return list.slice(0, limit)
}

function fakeLeanCloud (opts) {
  const { appId, masterKey } = opts
  const conversations = opts.conversations.slice().sort((a, b) => (a.objectId < b.objectId ? -1 : 1))
  const messages = opts.messages
  const failOnce = Object.assign({}, opts.failOnce || {})
  const counts = {}
  const requests = []

  const server = http.createServer((req, res) => {
    const url = new URL(req.url, 'http://x')
    const q = url.searchParams
    const p = url.pathname
    requests.push({ method: req.method, path: p, query: Object.fromEntries(q), headers: req.headers })
    const send = (status, body, headers = {}) => {
      res.writeHead(status, Object.assign({ 'Content-Type': 'application/json' }, headers))
      res.end(JSON.stringify(body))
    }
    counts[p] = (counts[p] || 0) + 1
    const failure = failOnce[`${p}#${counts[p]}`]
    if (failure) {
      delete failOnce[`${p}#${counts[p]}`]
      return send(failure, { code: failure === 429 ? 429 : 1, error: failure === 429 ? 'Too many requests.' : 'Internal server error.' },
        failure === 429 ? { 'Retry-After': '1' } : {})
    }
    if (req.headers['x-lc-id'] !== appId || req.headers['x-lc-key'] !== `${masterKey},master`) {
      return send(401, { code: 401, error: 'Unauthorized.' })
    }
    if (p === '/1.1/classes/_Conversation' && q.get('count') === '1') {
      return send(200, { results: [], count: conversations.length })
    }
    if (p === '/1.1/scan/classes/_Conversation') {
      const limit = Math.min(Number(q.get('limit') || 100), 1000)
      const from = q.has('cursor') ? Number(Buffer.from(q.get('cursor'), 'base64').toString()) : 0
      const results = conversations.slice(from, from + limit)
      const next = from + limit < conversations.length ? Buffer.from(String(from + limit)).toString('base64') : null
      return send(200, { results, cursor: next })
    }
    if (p === '/1.2/rtm/messages') {
      if (opts.appWide === false) return send(404, { code: 404, error: 'Not found.' })
      return send(200, historyPage(messages, q))
    }
    const m = /^\/1\.2\/rtm\/(conversations|chatrooms)\/([^/]+)\/messages$/.exec(p)
    if (m) {
      const conv = conversations.find((c) => c.objectId === m[2])
      if (!conv) return send(404, { code: 4401, error: 'Conversation not found.' })
      return send(200, historyPage(messages.filter((r) => r.to === m[2] && r['is-conv']), q))
    }
    send(404, { code: 404, error: 'Not found.' })
  })
  return new Promise((resolve) => {
    server.listen(0, '127.0.0.1', () => {
      resolve({
        url: `http://127.0.0.1:${server.address().port}`,
        requests,
        close: () => new Promise((r) => server.close(r))
      })
    })
  })
}

module.exports = { fakeLeanCloud, newestFirst }
