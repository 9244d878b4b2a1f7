import { appendFileSync, cpSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MigrationError } from '@penguinmails/service-kit';
import { MIGRATIONS_DIR, migrateClickHouse } from '../src/db/migrate';
import { splitStatements } from '../src/db/split-statements';
import { freshStore, type TestStore } from './harness';

let db: TestStore;
let dir: string;

beforeAll(async () => {
  // A private copy of the migrations, so this file can edit them.
  dir = mkdtempSync(join(tmpdir(), 'pm-analytics-migrations-'));
  cpSync(MIGRATIONS_DIR, dir, { recursive: true });
  db = await freshStore({ migrate: false });
});
afterAll(async () => {
  await db?.drop();
  rmSync(dir, { recursive: true, force: true });
});

async function ledger(): Promise<string[]> {
  const rows = await (
    await db.store.client.query({ query: `select name from ${db.store.table('_pm_migrations')} final order by name`, format: 'JSONEachRow' })
  ).json<{ name: string }>();
  return rows.map((r) => r.name);
}

describe('ClickHouse migrations', () => {
  it('applies every migration once, in order, and a second run applies nothing', async () => {
    const first = await migrateClickHouse({ store: db.store, migrationsDir: dir });
    expect(first.applied).toEqual(['001_email_events', '002_analytics_views', '003_fact_events', '004_rollups', '005_event_variant', '006_counted_rollups', '007_minute_rollups']);
    const tables = await (
      await db.store.client.query({
        query: 'select name from system.tables where database = {db:String} order by name',
        query_params: { db: db.store.database },
        format: 'JSONEachRow',
      })
    ).json<{ name: string }>();
    expect(tables.map((t) => t.name)).toEqual([
      '_pm_migrations',
      'campaign_analytics',
      'campaign_analytics_hourly',
      'campaign_hourly',
      'campaign_hourly_mv',
      'campaign_minutely',
      'campaign_minutely_mv',
      'email_events',
      'event_keys',
      'event_keys_mv',
      'events',
      'mailbox_analytics',
      'mailbox_analytics_hourly',
      'mailbox_hourly',
      'mailbox_hourly_mv',
      'mailbox_minutely',
      'mailbox_minutely_mv',
      'sequence_step_analytics',
      'sequence_step_analytics_hourly',
      'sequence_step_hourly',
      'sequence_step_hourly_mv',
      'sequence_step_minutely',
      'sequence_step_minutely_mv',
    ]);

    const second = await migrateClickHouse({ store: db.store, migrationsDir: dir });
    expect(second.applied).toEqual([]);
    expect(await ledger()).toEqual(['001_email_events', '002_analytics_views', '003_fact_events', '004_rollups', '005_event_variant', '006_counted_rollups', '007_minute_rollups']);
  });

  it('applies a new migration, and its idempotent statements survive a rerun after a failure', async () => {
    writeFileSync(join(dir, '099_add_column.sql'), 'alter table {{database}}.email_events add column if not exists source LowCardinality(String) default \'\';\nselect no_such_column from {{database}}.email_events;\n');
    await expect(migrateClickHouse({ store: db.store, migrationsDir: dir })).rejects.toThrow(/099_add_column failed at statement 2 of 2/);
    expect(await ledger()).not.toContain('099_add_column');
    // Fixed (not yet applied, so it may be edited): the first statement runs again harmlessly.
    writeFileSync(join(dir, '099_add_column.sql'), 'alter table {{database}}.email_events add column if not exists source LowCardinality(String) default \'\';\n');
    expect((await migrateClickHouse({ store: db.store, migrationsDir: dir })).applied).toEqual(['099_add_column']);
  });

  it('refuses a migration edited after it was applied', async () => {
    appendFileSync(join(dir, '001_email_events.sql'), '\n-- an innocent-looking edit\n');
    const run = migrateClickHouse({ store: db.store, migrationsDir: dir });
    await expect(run).rejects.toBeInstanceOf(MigrationError);
    await expect(migrateClickHouse({ store: db.store, migrationsDir: dir })).rejects.toThrow(/001_email_events was edited after it was applied/);
  });

  it('refuses a database migrated by a newer build', async () => {
    cpSync(MIGRATIONS_DIR, dir, { recursive: true, force: true }); // undo the edit above
    rmSync(join(dir, '099_add_column.sql'));
    await expect(migrateClickHouse({ store: db.store, migrationsDir: dir })).rejects.toThrow(/has migration 099_add_column which this build does not know/);
  });
});

describe('splitStatements', () => {
  it('splits on semicolons outside quotes and comments, dropping comment-only pieces', () => {
    const sql = [
      '-- header; with a semicolon',
      "create table a (s String default 'x;y') engine = Memory;",
      '/* block; comment */',
      'create view v as select \'it\'\'s; fine\' as s, `odd;name` from a;',
      '  ;  ',
      '-- trailing comment only',
    ].join('\n');
    expect(splitStatements(sql)).toEqual([
      "-- header; with a semicolon\ncreate table a (s String default 'x;y') engine = Memory",
      "/* block; comment */\ncreate view v as select 'it''s; fine' as s, `odd;name` from a",
    ]);
  });

  it('refuses an unterminated quote rather than guessing', () => {
    expect(() => splitStatements("select 'open")).toThrow(/unterminated ' quote/);
  });
});
