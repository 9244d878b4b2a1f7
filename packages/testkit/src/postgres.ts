import { createHash, randomBytes } from 'node:crypto';
import { Client } from 'pg';
import { migratePostgres, readMigrations } from '@penguinmails/service-kit';

/** The server tests create their databases on: PG_ADMIN_URL, or the local default. */
export function adminUrl(): string {
  return process.env.PG_ADMIN_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
}

function withDatabase(url: string, db: string): string {
  const u = new URL(url);
  u.pathname = '/' + db;
  return u.toString();
}

export interface FreshDatabase {
  url: string;
  name: string;
  /** Drops the database (forcing out leftover connections). */
  drop(): Promise<void>;
}

/** Lock id shared by every test process that builds or clones templates. */
const TEMPLATE_LOCK = 7_316_548_922;

/**
 * A new, empty-but-migrated database for one test file (or one test).
 *
 * The migrations are applied once per set of migration files into a template database
 * named by their checksums (`pmt_<hash>`); every fresh database is a `create database …
 * template` copy of it, which takes ~100 ms instead of re-running migrations. An advisory
 * lock serialises template creation and cloning across parallel jest workers. `adminUrl`: the
 * server to create it on (default PG_ADMIN_URL, else 127.0.0.1:5432).
 */
export async function freshDatabase(opts: { migrationsDir?: string; prefix?: string; adminUrl?: string } = {}): Promise<FreshDatabase> {
  const serverUrl = opts.adminUrl ?? adminUrl();
  const admin = new Client({ connectionString: serverUrl });
  await admin.connect();
  const name = `${opts.prefix ?? 'pm_test'}_${Date.now().toString(36)}_${randomBytes(4).toString('hex')}`;
  try {
    await admin.query('select pg_advisory_lock($1)', [TEMPLATE_LOCK]);
    if (opts.migrationsDir) {
      const files = readMigrations(opts.migrationsDir);
      const hash = createHash('sha256').update(files.map((f) => f.name + f.checksum).join('|')).digest('hex').slice(0, 16);
      const template = `pmt_${hash}`;
      const exists = await admin.query('select 1 from pg_database where datname = $1', [template]);
      if (exists.rowCount === 0) {
        const building = `${template}_building`;
        await admin.query(`drop database if exists ${building} with (force)`);
        await admin.query(`create database ${building}`);
        await migratePostgres({ databaseUrl: withDatabase(serverUrl, building), migrationsDir: opts.migrationsDir });
        // Renamed only when complete, so a crash mid-build never leaves a half template.
        await admin.query(`alter database ${building} rename to ${template}`);
      }
      await admin.query(`create database ${name} template ${template}`);
    } else {
      await admin.query(`create database ${name}`);
    }
  } finally {
    await admin.query('select pg_advisory_unlock($1)', [TEMPLATE_LOCK]).catch(() => undefined);
    await admin.end();
  }
  const url = withDatabase(serverUrl, name);
  return {
    url,
    name,
    drop: async () => {
      const c = new Client({ connectionString: serverUrl });
      await c.connect();
      try {
        await c.query(`drop database if exists ${name} with (force)`);
      } finally {
        await c.end();
      }
    },
  };
}

/**
 * Waits (up to `timeoutMs`) until every outbox row of the database at `url` is published, and
 * resolves with how many rows the outbox holds: what a test compares with the stream's message
 * count to prove each event went out exactly once.
 */
export async function outboxPublished(url: string, timeoutMs = 10_000): Promise<number> {
  const pg = new Client({ connectionString: url });
  await pg.connect();
  try {
    for (const end = Date.now() + timeoutMs; ; ) {
      const { rows } = await pg.query<{ total: string; pending: string }>(
        'select count(*) as total, count(*) filter (where published is null) as pending from outbox_events',
      );
      if (rows[0].pending === '0' || Date.now() > end) return Number(rows[0].total);
      await new Promise((r) => setTimeout(r, 100));
    }
  } finally {
    await pg.end();
  }
}

/**
 * What `work` did to PostgreSQL's statistics counters: each of `counters` (a name → a SQL
 * expression such as `pg_stat_get_xact_tuples_returned('jobs_pkey'::regclass)`) read before and
 * after `work`, both inside ONE transaction on `client`, and returned as differences. Inside one
 * transaction because PostgreSQL 15's pg_stat_get_xact_* also count a backend's earlier
 * transactions until it flushes its statistics, which it does only between transactions; the
 * difference is then `work`'s alone, on a fresh connection or a pooled one. `work` must run its
 * statements on `client`.
 */
export async function statDeltas<K extends string>(
  client: Pick<Client, 'query'>,
  counters: Record<K, string>,
  work: () => Promise<unknown>,
): Promise<Record<K, number>> {
  const names = Object.keys(counters) as K[];
  const read = `select ${names.map((k) => `${counters[k]} as "${k}"`).join(', ')}`;
  await client.query('begin');
  try {
    const before = (await client.query<Record<K, string>>(read)).rows[0];
    await work();
    const after = (await client.query<Record<K, string>>(read)).rows[0];
    await client.query('commit');
    return Object.fromEntries(names.map((k) => [k, Number(after[k]) - Number(before[k])])) as Record<K, number>;
  } catch (err) {
    await client.query('rollback').catch(() => undefined);
    throw err;
  }
}
