/*
 * leanrt-shim.js, served by leanrt-server at /leanrt-shim.js.
 *
 * Load it before the original leancloud-realtime 2.4.0 browser bundle (AV.realtime.js):
 *
 *   <script src="https://YOUR-SERVER/leanrt-shim.js"></script>
 *   <script src="AV.realtime.js"></script>
 *
 * The bundle asks LeanCloud's router hosts (router-g0-push.leancloud.cn, router-a0-...)
 * where to connect. This shim sends those requests to the leanrt-server it was loaded
 * from instead, whose router hands out that server's WebSocket URL. Nothing else on
 * the page is changed: other requests go where they were going.
 */
(function () {
  'use strict'
  var script = document.currentScript
  if (!script || !script.src) {
    throw new Error('leanrt-shim.js: load it with a <script src> tag, not inline or as a module')
  }
  var origin = script.src.replace(/^([a-z]+:\/\/[^/]+).*$/i, '$1')
  var router = /^(?:https?:)?\/\/router-[a-z0-9]+-push\.leancloud\.cn\/v1\/route(?=[?#]|$)/i

  function rewrite (url) {
    return typeof url === 'string' ? url.replace(router, origin + '/v1/route') : url
  }

  function patch (Request) {
    if (!Request || !Request.prototype || Request.prototype.open.__leanrt) return
    var open = Request.prototype.open
    Request.prototype.open = function (method, url) {
      var args = Array.prototype.slice.call(arguments)
      args[1] = rewrite(url)
      return open.apply(this, args)
    }
    Request.prototype.open.__leanrt = true
  }

  patch(window.XMLHttpRequest)
  patch(window.XDomainRequest)
  window.leanrtServer = origin
})()
