#!/usr/bin/env node
// Container health check: asks the service's own grpc.health.v1.Health/Check for the overall
// status ('') and exits 0 only on SERVING. Used by the image's HEALTHCHECK (docker, compose);
// Kubernetes uses native gRPC probes instead and never runs this file.
//
// Plain CommonJS with no dependencies of its own: @grpc/grpc-js and grpc-health-check are loaded
// from the service's node_modules (SERVICE_DIR, default the working directory). With pnpm's
// isolated layout grpc-health-check is a dependency of @penguinmails/service-kit rather than of
// the service, so it is resolved from there when the service does not list it.
'use strict';

const path = require('node:path');
const { createRequire } = require('node:module');

const DEFAULT_PORTS = { metadata: 50051, content: 50052, queue: 50053, analytics: 50054 };

const serviceDir = process.env.SERVICE_DIR || process.cwd();
const service = process.env.SERVICE || path.basename(serviceDir);
const port = Number(process.env.GRPC_PORT || DEFAULT_PORTS[service]);
const timeoutMs = Number(process.env.HEALTHCHECK_TIMEOUT_MS || 3000);

function fail(message) {
  process.stderr.write(`healthcheck ${service}: ${message}\n`);
  process.exit(1);
}

if (!Number.isInteger(port) || port <= 0) fail('set GRPC_PORT (or SERVICE to a known service name)');

const fromService = createRequire(path.join(serviceDir, 'package.json'));
let fromKit;
function load(name) {
  try {
    return fromService(name);
  } catch (err) {
    if (err.code !== 'MODULE_NOT_FOUND') throw err;
    fromKit ??= createRequire(fromService.resolve('@penguinmails/service-kit/package.json'));
    return fromKit(name);
  }
}

let grpc, health;
try {
  grpc = load('@grpc/grpc-js');
  health = load('grpc-health-check');
} catch (err) {
  fail(`cannot load the gRPC client from ${serviceDir}: ${err.message}`);
}

const Health = grpc.makeClientConstructor(health.service, 'grpc.health.v1.Health');
const client = new Health(`127.0.0.1:${port}`, grpc.credentials.createInsecure());
client.check({ service: '' }, { deadline: Date.now() + timeoutMs }, (err, reply) => {
  client.close();
  if (err) return fail(`127.0.0.1:${port}: ${err.details || err.message}`);
  // grpc-health-check's definition decodes enums as names; accept the number too.
  if (reply.status === 'SERVING' || reply.status === 1) process.exit(0);
  return fail(`127.0.0.1:${port}: status ${reply.status}`);
});
