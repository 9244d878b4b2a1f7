import { join } from 'node:path';
import { MigrationError, pendingMigrations, readMigrations } from '@penguinmails/service-kit';
import type { Logger } from 'pino';
import type { Store } from './client';
import { ClusterDdl } from './cluster-ddl';
import { splitStatements } from './split-statements';

/** services/analytics/clickhouse/migrations, from src/db or dist/db alike. */
export const MIGRATIONS_DIR = join(__dirname, '..', '..', 'clickhouse', 'migrations');

/** Written in migration files where the database name goes; replaced by the configured one. */
const DATABASE_PLACEHOLDER = /\{\{database\}\}/g;
/** The same name as a string literal (`'penguinmails_analytics'`), for system.tables/columns lookups. */
const DATABASE_LITERAL_PLACEHOLDER = /\{\{database_literal\}\}/g;

/** A migration's text with the database placeholders replaced. */
export function withDatabase(sql: string, database: string): string {
  // The name is a validated identifier (IDENTIFIER): safe inside backquotes and quotes alike.
  return sql.replace(DATABASE_PLACEHOLDER, `\`${database}\``).replace(DATABASE_LITERAL_PLACEHOLDER, `'${database}'`);
}

/** The runner's own DDL, before any migration: the database and the ledger. */
export function setupStatements(database: string): string[] {
  return [
    `create database if not exists \`${database}\``,
    `create table if not exists \`${database}\`.\`_pm_migrations\` (
      name String,
      checksum String,
      applied_at DateTime64(3, 'UTC') default now64(3)
    ) engine = ReplacingMergeTree(applied_at) order by name`,
  ];
}

export interface MigrateClickHouseOptions {
  store: Store;
  migrationsDir?: string;
  logger?: Logger;
  /** CLICKHOUSE_CLUSTER: apply every statement as cluster DDL (src/db/cluster-ddl.ts). */
  cluster?: string;
}

/**
 * Applies pending ClickHouse migrations (`<nnn>_<name>.sql`, read with the kit's
 * `readMigrations`): in name order, statement by statement, then records the migration with its
 * checksum in `<database>._pm_migrations`. Refuses (MigrationError) an applied migration whose
 * file changed, and a database that knows a migration this build does not.
 *
 * What PostgreSQL's runner has and ClickHouse lacks: transactions and advisory locks. So a
 * migration is not atomic and two replicas may apply one at the same time. Both are made safe
 * by the files, not the runner: every statement is idempotent (`create ... if not exists`,
 * `alter ... add column if not exists`), so a migration that failed half way is completed by
 * running it again, and two concurrent runs end in the same schema. The record is written only
 * after every statement succeeded; `_pm_migrations` is a ReplacingMergeTree on the name, so the
 * second replica's record of the same migration collapses into the first.
 */
export async function migrateClickHouse(opts: MigrateClickHouseOptions): Promise<{ applied: string[] }> {
  const { store } = opts;
  const files = readMigrations(opts.migrationsDir ?? MIGRATIONS_DIR);
  const ledger = store.table('_pm_migrations');
  const setup = setupStatements(store.database);
  // Identity on one server; with CLICKHOUSE_CLUSTER each statement becomes its cluster form,
  // learnt from every file (a pending migration may name tables an applied one created).
  const cluster = opts.cluster
    ? new ClusterDdl({ cluster: opts.cluster, database: store.database }, [...setup, ...files.flatMap((f) => splitStatements(withDatabase(f.sql, store.database)))])
    : undefined;
  const render = (statement: string): string[] => (cluster ? cluster.render(statement) : [statement]);
  for (const statement of setup) for (const query of render(statement)) await store.client.command({ query });
  const rows = await (
    await store.client.query({ query: `select name, checksum from ${ledger} final`, format: 'JSONEachRow' })
  ).json<{ name: string; checksum: string }>();
  const todo = pendingMigrations(files, new Map(rows.map((r) => [r.name, r.checksum])));

  for (const m of todo) {
    const started = Date.now();
    const statements = splitStatements(withDatabase(m.sql, store.database)).flatMap(render);
    for (const [i, statement] of statements.entries()) {
      try {
        await store.client.command({ query: statement });
      } catch (err) {
        throw new MigrationError(
          `migration ${m.name} failed at statement ${i + 1} of ${statements.length}: ${(err as Error).message}; ` +
            'statements before it stay applied (ClickHouse has no transactions) and, being idempotent, run again harmlessly once the file is fixed',
          { cause: err },
        );
      }
    }
    await store.client.insert({ table: ledger, values: [{ name: m.name, checksum: m.checksum }], format: 'JSONEachRow' });
    opts.logger?.info({ migration: m.name, statements: statements.length, ms: Date.now() - started }, 'migration applied');
  }
  return { applied: todo.map((m) => m.name) };
}
