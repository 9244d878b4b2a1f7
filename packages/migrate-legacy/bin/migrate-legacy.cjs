#!/usr/bin/env node
// Runs the TypeScript sources through tsx (no build step): `npm run migrate-legacy -- <cmd>`.
require('tsx/cjs');
require('../src/cli.ts')
  .main(process.argv.slice(2))
  .then((code) => process.exit(code ?? 0), (err) => { console.error(`error: ${err && err.message ? err.message : err}`); process.exit(1); });
