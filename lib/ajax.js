'use strict'
// `realtime._tool.ajax`: 2.4.0's tool/ajax.js on node's http/https instead of the npm
// `xmlhttprequest` 1.8 it used there. What 2.4.0 did, kept:
// - `ajax(url, cb)` or `ajax({url, method = 'get', data}, cb)`;
// - the body is `JSON.stringify(data)` (none when that is undefined, or for the exact
//   methods 'GET'/'HEAD', as xmlhttprequest did), with `Content-Type:
//   text/plain;charset=UTF-8`;
// - redirects (301/302/303/307) are followed, 303 as a GET;
// - no timeout;
// - a 2xx reply calls `cb(null, JSON.parse(body))`; any other status `cb(JSON.parse(body))`.
// Deviations (protocol.md §9 fix 6: no uncaught exceptions from the network):
// - a network error calls `cb(err)` with an Error('Network error.') whose `cause` is the
//   underlying error, and throws nothing (2.4.0 called `cb({})`, then threw uncaught);
// - a reply that is not JSON calls `cb(err)` with the SyntaxError, carrying `status` and
//   `responseText` (2.4.0 threw the SyntaxError uncaught);
// - an error reply whose JSON body is falsy (`null`, `0`, …) gives `cb({status})`;
// - a URL that is not http(s) calls `cb(err)` asynchronously (2.4.0 threw
//   'Protocol not supported.' synchronously from xmlhttprequest, or tried localhost).
const http = require('node:http')
const https = require('node:https')

const MAX_REDIRECTS = 20

function ajax(options, callback) {
  if (typeof options === 'string') {
    options = { url: options }
  }
  const url = options.url
  const method = String(options.method || 'get')
  const body = JSON.stringify(options.data)
  let done = false
  function finish(err, data) {
    if (done) return
    done = true
    if (callback) {
      if (err) callback(err)
      else callback(null, data)
    }
  }
  function fail(cause, message) {
    const err = new Error(message || 'Network error.')
    err.cause = cause
    process.nextTick(finish, err)
  }
  function request(target, verb, redirects) {
    let parsed
    try {
      parsed = new URL(target)
    } catch (err) {
      return fail(err, 'Protocol not supported.')
    }
    if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') {
      return fail(new Error(parsed.protocol), 'Protocol not supported.')
    }
    const send = body !== undefined && verb !== 'GET' && verb !== 'HEAD'
    const headers = { Accept: '*/*' }
    if (send) {
      headers['Content-Type'] = 'text/plain;charset=UTF-8'
      headers['Content-Length'] = Buffer.byteLength(body)
    }
    const lib = parsed.protocol === 'https:' ? https : http
    let req
    try {
      req = lib.request(parsed, { method: verb.toUpperCase(), headers, agent: false })
    } catch (err) {
      return fail(err)
    }
    req.on('error', (err) => fail(err))
    req.on('response', (res) => {
      const status = res.statusCode
      if ([301, 302, 303, 307].includes(status) && res.headers.location && redirects < MAX_REDIRECTS) {
        res.resume()
        const next = new URL(res.headers.location, parsed).toString()
        return request(next, status === 303 ? 'GET' : verb, redirects + 1)
      }
      res.setEncoding('utf8')
      let text = ''
      res.on('data', (chunk) => (text += chunk))
      res.on('error', (err) => fail(err))
      res.on('end', () => {
        let data
        try {
          data = JSON.parse(text)
        } catch (err) {
          err.status = status
          err.responseText = text
          return finish(err)
        }
        if (status >= 200 && status < 300) finish(null, data)
        // 2.4.0 passed the parsed body; a falsy one becomes {status}, so it still reads as an error.
        else finish(data || { status })
      })
    })
    if (send) req.write(body)
    req.end()
  }
  request(url, method, 0)
}

module.exports = ajax
