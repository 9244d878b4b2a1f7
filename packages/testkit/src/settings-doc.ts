import fs from 'node:fs';
import path from 'node:path';
import { repoRoot } from './platform';

/**
 * The settings (environment variable names, the keys of a service's settings shape) that none of
 * `readmes` names, nor the service kit's README (which documents the settings every service
 * shares: commonSettings, postgresSettings, natsSettings, ...). A name counts when it appears as a
 * whole word, so `PAGE_SIZE` is not found inside `PAGE_SIZE_MAX`. For a test that keeps each
 * service's "Settings" honest: a new setting fails it until someone says what it does.
 */
export function undocumentedSettings(shape: Record<string, unknown>, readmes: string[]): string[] {
  const text = [...readmes, path.join(repoRoot(), 'packages', 'service-kit', 'README.md')].map((f) => fs.readFileSync(f, 'utf8')).join('\n');
  return Object.keys(shape).filter((key) => !new RegExp(`(^|[^A-Za-z0-9_])${key}($|[^A-Za-z0-9_])`).test(text));
}
