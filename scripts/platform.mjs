#!/usr/bin/env node
// Entry point of the root package.json scripts (npm start, npm test, npm run migrate, ...).
// It runs on a fresh clone before anything is installed, so it and everything it imports at load
// time use Node built-ins only; the code lives in packages/cli/src (see its README).
import { run } from '../packages/cli/src/main.mjs';

const [major, minor] = process.versions.node.split('.').map(Number);
if (major < 20 || (major === 20 && minor < 11)) {
  process.stderr.write(`platform: error: Node ${process.versions.node} is too old: this repository needs Node 20.11 or newer\n`);
  process.exit(1);
}

process.exitCode = await run(process.argv.slice(2));
// Open handles (a gRPC channel, a pg socket) must not keep a finished command alive.
process.exit(process.exitCode);
