'use strict'
// `npm run bench:migration` at smoke size: every figure is filled in, and the export
// read back from leanrt-server holds every message imported and sent.
const { test } = require('node:test')
const assert = require('node:assert/strict')
const { spawnSync } = require('node:child_process')
const path = require('node:path')

const root = path.join(__dirname, '..')

test('bench/migration.js works at smoke size', { timeout: 240000 }, () => {
  const r = spawnSync(process.execPath, [path.join(root, 'bench', 'migration.js'), '--smoke'], { cwd: root, encoding: 'utf8', timeout: 230000 })
  assert.equal(r.status, 0, r.stderr)
  const line = r.stdout.split('\n').find((l) => l.startsWith('RESULT '))
  const res = JSON.parse(line.slice(7))
  for (const k of ['import_disk', 'rest_send_disk', 'ws_send_disk']) {
    assert.ok(res[k], k)
  }
  assert.ok(res.import_disk.messagesPerSecond > 0 && res.import_disk.bytesPerMessage > 0)
  for (const k of ['rest_send_disk', 'ws_send_disk']) {
    assert.ok(res[k].perSecond > 0 && res[k].p50 > 0 && res[k].p99 >= res[k].p50, k)
  }
  // Imported, sent over REST and over the WebSocket (on disk; /dev/shm is a second file).
  const total = res.convs * res.perConversation + 2 * res.sends
  assert.equal(res.history_page_app.records, Math.min(1000, total))
  assert.equal(res.export_back.summary, `exported ${res.convs} conversations and ${total} messages (${res.export_back.summary.match(/\((\d+) pages\)/)[1]} pages)`)
})
