'use strict'
// `require('leanrt/promises')`: the 2.4.0 API, awaitable (README, "An awaitable API").
const { connect } = require('./lib/promises/connect')
const { LeanrtError } = require('./lib/promises/errors')

module.exports = { connect, LeanrtError }
