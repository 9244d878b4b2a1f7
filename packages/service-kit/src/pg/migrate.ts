import { Client } from 'pg';
import type { Logger } from 'pino';
import { MigrationError, pendingMigrations, readMigrations } from '../migrations/files';
import { redact, redactText } from '../redact';

// Why not `prisma migrate deploy`: it needs Prisma's native schema engine, which cannot be
// downloaded on our build machines, and its driver-adapter path fails on PostgreSQL (prisma/orm
// issue 27403). The SQL files stay in Prisma's layout, so `prisma migrate` can take over later.

/** A constant key for pg_advisory_lock: "pm-migrate" folded into an int. */
const LOCK_KEY = 7_316_548_921;

export interface MigrateOptions {
  databaseUrl: string;
  /** e.g. `services/metadata/prisma/migrations` */
  migrationsDir: string;
  logger?: Logger;
}

/**
 * Applies pending migrations: in name order, each in its own transaction, recorded with its
 * checksum in `_pm_migrations`. A session advisory lock serialises replicas that start at the
 * same time: the second waits, then finds nothing to do. Refuses (MigrationError) an applied
 * migration whose file changed, and a database migrated by a newer build.
 */
export async function migratePostgres(opts: MigrateOptions): Promise<{ applied: string[] }> {
  const files = readMigrations(opts.migrationsDir);
  const client = new Client({ connectionString: opts.databaseUrl, connectionTimeoutMillis: 10_000 });
  // A connection that dies between two statements emits 'error'; unheard, that crashes the
  // process instead of failing the migration's next statement (which reports it).
  client.on('error', (err) => opts.logger?.warn({ err: err.message }, 'migration connection failed'));
  try {
    await client.connect();
  } catch (err) {
    throw new Error(`PostgreSQL at ${redact(opts.databaseUrl)} did not answer (${describe(err)}); start it or fix DATABASE_URL`, { cause: err });
  }
  try {
    await client.query('select pg_advisory_lock($1)', [LOCK_KEY]);
    await client.query(`
      create table if not exists _pm_migrations (
        name text primary key,
        checksum text not null,
        applied_at timestamptz not null default now()
      )`);
    const rows = (await client.query<{ name: string; checksum: string }>('select name, checksum from _pm_migrations')).rows;
    const todo = pendingMigrations(files, new Map(rows.map((r) => [r.name, r.checksum])));
    for (const m of todo) {
      const started = Date.now();
      try {
        await client.query('begin');
        await client.query(m.sql);
        await client.query('insert into _pm_migrations (name, checksum) values ($1, $2)', [m.name, m.checksum]);
        await client.query('commit');
      } catch (err) {
        await client.query('rollback').catch(() => undefined);
        throw new MigrationError(`migration ${m.name} failed and was rolled back: ${(err as Error).message}`, { cause: err });
      }
      opts.logger?.info({ migration: m.name, ms: Date.now() - started }, 'migration applied');
    }
    return { applied: todo.map((m) => m.name) };
  } finally {
    await client.query('select pg_advisory_unlock($1)', [LOCK_KEY]).catch(() => undefined);
    await client.end().catch(() => undefined);
  }
}

function describe(err: unknown): string {
  const e = err as { code?: string; message?: string };
  if (e?.code === '3D000') return 'the database does not exist';
  if (e?.code === '28P01' || e?.code === '28000') return 'authentication failed';
  // Driver messages are not ours: scrub them in case one quotes the connection string.
  return redactText(e?.code ? `${e.code}: ${e.message}` : String(e?.message ?? err));
}
