import { randomBytes } from 'node:crypto';
import { Client } from 'pg';

/** The server the benchmarks create their databases on (the tests use the same variable). */
export function adminUrl(): string {
  return process.env.PG_ADMIN_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
}

export function withDatabase(url: string, db: string): string {
  const u = new URL(url);
  u.pathname = '/' + db;
  return u.toString();
}

/** Refuses anything but the loopback interface: a benchmark must never load a shared server. */
export function assertLocal(url: string, what: string): void {
  const host = new URL(url).hostname;
  if (!['127.0.0.1', 'localhost', '::1', '[::1]'].includes(host)) {
    throw new Error(`${what} points at ${host}; the benchmarks only talk to 127.0.0.1`);
  }
}

export interface BenchDatabase {
  name: string;
  url: string;
  drop(): Promise<void>;
}

const live = new Set<BenchDatabase>();

/** A new empty database `<prefix>_<time>_<random>`, dropped by drop() or on SIGINT/SIGTERM. */
export async function createBenchDatabase(prefix: string): Promise<BenchDatabase> {
  const admin = adminUrl();
  assertLocal(admin, 'PG_ADMIN_URL');
  const name = `${prefix}_${Date.now().toString(36)}_${randomBytes(3).toString('hex')}`;
  const c = new Client({ connectionString: admin });
  await c.connect();
  try {
    await c.query(`create database ${name}`);
  } finally {
    await c.end();
  }
  const db: BenchDatabase = {
    name,
    url: withDatabase(admin, name),
    drop: async () => {
      live.delete(db);
      const d = new Client({ connectionString: admin });
      await d.connect();
      try {
        await d.query(`drop database if exists ${name} with (force)`);
      } finally {
        await d.end();
      }
    },
  };
  live.add(db);
  return db;
}

const cleanups = new Set<() => Promise<void>>();
/** Registers extra cleanup (streams, servers) to run on SIGINT/SIGTERM. Returns an unregister function. */
export function onInterrupt(fn: () => Promise<void>): () => void {
  cleanups.add(fn);
  return () => cleanups.delete(fn);
}

let installed = false;
/** On Ctrl-C the databases and streams are still dropped. */
export function installInterruptCleanup(): void {
  if (installed) return;
  installed = true;
  const handler = async (signal: string) => {
    process.stderr.write(`\n${signal}: cleaning up ${live.size} database(s) and ${cleanups.size} other resource(s)\n`);
    for (const fn of cleanups) await fn().catch(() => undefined);
    for (const db of [...live]) await db.drop().catch(() => undefined);
    process.exit(130);
  };
  // The handler ends in process.exit and catches each cleanup's rejection itself.
  process.once('SIGINT', (signal) => void handler(signal));
  process.once('SIGTERM', (signal) => void handler(signal));
}
