// Types of the ESM entry of `leanrt/promises` (promises.mjs): those of promises.d.ts, by name.
export * from './promises.js'
