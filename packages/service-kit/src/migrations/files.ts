import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';

/** One migration on disk. */
export interface MigrationFile {
  /** Folder or file name without `.sql`, e.g. `20261125000000_init`; sorts in apply order. */
  name: string;
  sql: string;
  /** sha256 of the SQL; an applied migration whose file changed is refused. */
  checksum: string;
}

/**
 * Reads migrations in either layout, sorted by name:
 *  - Prisma's: `<dir>/<timestamp>_<name>/migration.sql` (PostgreSQL services)
 *  - flat:     `<dir>/<number>_<name>.sql` (ClickHouse)
 */
export function readMigrations(dir: string): MigrationFile[] {
  if (!existsSync(dir)) throw new Error(`migrations folder ${dir} does not exist`);
  const out: MigrationFile[] = [];
  for (const entry of readdirSync(dir).sort()) {
    const p = join(dir, entry);
    let sql: string | undefined;
    let name = entry;
    if (statSync(p).isDirectory()) {
      const f = join(p, 'migration.sql');
      if (existsSync(f)) sql = readFileSync(f, 'utf8');
    } else if (entry.endsWith('.sql')) {
      sql = readFileSync(p, 'utf8');
      name = entry.slice(0, -4);
    }
    if (sql === undefined) continue;
    out.push({ name, sql, checksum: createHash('sha256').update(sql).digest('hex') });
  }
  return out;
}

/** Thrown when the database and the code disagree about migrations; never retried. */
export class MigrationError extends Error {
  override name = 'MigrationError';
}

/** Checks applied migrations against the files; returns those still to apply. */
export function pendingMigrations(files: MigrationFile[], applied: Map<string, string>): MigrationFile[] {
  const known = new Set(files.map((f) => f.name));
  for (const name of applied.keys()) {
    if (!known.has(name))
      throw new MigrationError(
        `the database has migration ${name} which this build does not know; it was migrated by a newer version — deploy that version or restore a backup`,
      );
  }
  for (const f of files) {
    const sum = applied.get(f.name);
    if (sum !== undefined && sum !== f.checksum)
      throw new MigrationError(
        `migration ${f.name} was edited after it was applied (checksum ${sum.slice(0, 12)} in the database, ${f.checksum.slice(0, 12)} on disk); applied migrations are immutable — revert the edit and add a new migration`,
      );
  }
  return files.filter((f) => !applied.has(f.name));
}
