// `npm run migrate`: each service applies its own migrations (dist/migrate.js), one at a time.
// `start` runs the same step before it starts the services.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { UserError } from '../errors.mjs';
import { say, warn, prefixOutput } from '../log.mjs';
import { ensureDatabases } from '../postgres.mjs';
import { SERVICES, serviceDir, serviceEntry, storeEnv } from '../services.mjs';
import { install, build, ROOT } from '../setup.mjs';
import { resolveInfra } from '../infra.mjs';

/** Creates the services' databases if missing; returns {database name: url}. */
export function serviceDatabases(infra) {
  return ensureDatabases(infra.postgres.adminUrl, SERVICES.filter((s) => s.database).map((s) => s.database));
}

function runMigration(service, env) {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [serviceEntry(service, 'migrate.js')], { cwd: serviceDir(service), env, stdio: ['ignore', 'pipe', 'pipe'] });
    prefixOutput(child, `${service.name} migrate`, 0, SERVICES.indexOf(service));
    child.on('exit', (code, signal) => resolve(code ?? (signal ? 1 : 0)));
  });
}

/**
 * @param {{ skipMissing?: boolean }} options `start` tolerates a service without migrate.js
 *   (it may migrate on boot); `npm run migrate` does not.
 */
export async function migrateAll(infra, databaseUrls, { skipMissing = false } = {}) {
  for (const service of SERVICES) {
    const entry = serviceEntry(service, 'migrate.js');
    if (!fs.existsSync(entry)) {
      const message = `${path.relative(ROOT, entry)} not found (the service provides no migration entry)`;
      if (skipMissing) { warn(`${message}; skipping`); continue; }
      throw new UserError(message);
    }
    say(`migrating ${service.name}`);
    const env = { ...process.env, NODE_ENV: process.env.NODE_ENV || 'development', ...storeEnv(service, infra, databaseUrls) };
    const code = await runMigration(service, env);
    if (code !== 0) throw new UserError(`the ${service.name} migration failed (exit ${code}); see its output above`);
  }
}

export async function migrate() {
  await install();
  const infra = await resolveInfra({ nats: false }); // before the build: a bad URL should not wait for it
  await build();
  const databaseUrls = await serviceDatabases(infra);
  await migrateAll(infra, databaseUrls);
  say('migrations applied');
  return 0;
}
