'use strict'
// LeanCloud's current JavaScript SDKs (protocol v3, protobuf), installed as aliased dev
// dependencies beside the 2.4.0 reference: `leancloud-realtime-5` is 5.0.0-rc.8 (the
// last 5.x; npm's `latest` is 4.3.1) and `leancloud-realtime-4` is 4.3.1.
//
// Each entry builds `new Realtime(options)` aimed at a leanrt-server: 5.x through the
// router (`server`, plain http, `ssl: false`), 4.3.1 straight at the socket
// (`RTMServers`), since its `server` option is a bare host behind HTTPS.
// 4.3.1 makes its REST calls through axios, over HTTPS only; the test server is plain
// HTTP, so calls to it (127.0.0.1) are sent over HTTP.
require('axios').interceptors.request.use((config) => {
  if (config.url.startsWith('https://127.0.0.1:')) config.url = 'http' + config.url.slice('https'.length)
  return config
})

const SDKS = [
  {
    name: 'JS SDK 5.0.0-rc.8',
    sdk: require('leancloud-realtime-5'),
    options: (srv, appId) => ({ appId, appKey: 'key', server: srv.routerUrl, ssl: false })
  },
  {
    name: 'JS SDK 4.3.1',
    sdk: require('leancloud-realtime-4'),
    options: (srv, appId) => ({
      appId,
      appKey: 'key',
      RTMServers: srv.routerUrl.replace(/^http/, 'ws') + '/',
      // Its REST calls (notifications after a reconnect) go to `https://{server}`;
      // without it they would go to LeanCloud's own router.
      server: srv.routerUrl.replace(/^http:\/\//, '')
    })
  }
]

module.exports = { SDKS }
