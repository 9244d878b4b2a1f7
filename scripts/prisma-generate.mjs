#!/usr/bin/env node
// Generates the Prisma 7 client of the PostgreSQL service it is run from:
//   cd services/<name> && node ../../scripts/prisma-generate.mjs     (the `generate` script)
// Uses that service's own `prisma` CLI and `prisma/schema.prisma`.
//
// The Prisma CLI wants a native schema engine at start and would download it from Prisma's
// binaries host, which our build machines cannot reach. Generation itself does not use the
// engine, so when PRISMA_SCHEMA_ENGINE_BINARY is unset it is pointed at an existing file
// (this Node binary). Likewise the query engine library, which the driver-adapter client
// (`prisma-client` generator + @prisma/adapter-pg) never loads.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join, resolve } from 'node:path';

const serviceDir = resolve(process.argv[2] ?? process.cwd());
const schema = join(serviceDir, 'prisma', 'schema.prisma');
if (!existsSync(schema)) {
  console.error(`prisma-generate: no ${schema}; run it from a service folder or pass one`);
  process.exit(1);
}
let cli;
try {
  cli = createRequire(join(serviceDir, 'package.json')).resolve('prisma/build/index.js');
} catch {
  console.error(`prisma-generate: the prisma CLI is not installed in ${serviceDir}; run the install first`);
  process.exit(1);
}
const env = {
  ...process.env,
  PRISMA_SCHEMA_ENGINE_BINARY: process.env.PRISMA_SCHEMA_ENGINE_BINARY || process.execPath,
  PRISMA_QUERY_ENGINE_LIBRARY: process.env.PRISMA_QUERY_ENGINE_LIBRARY || process.execPath,
  CHECKPOINT_DISABLE: '1',
  PRISMA_HIDE_UPDATE_MESSAGE: '1',
};
const args = [cli, 'generate', '--schema', schema];
if (existsSync(join(serviceDir, 'prisma.config.ts'))) args.push('--config', join(serviceDir, 'prisma.config.ts'));
const r = spawnSync(process.execPath, args, { cwd: serviceDir, env, stdio: 'inherit' });
process.exit(r.status ?? 1);
