import { mkdtempSync, mkdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from 'pg';
import { MigrationError, migratePostgres } from '../src';
import { freshDatabase, type FreshDatabase } from '../../testkit/src';

let db: FreshDatabase;
let dir: string;

function write(name: string, sql: string) {
  mkdirSync(join(dir, name), { recursive: true });
  writeFileSync(join(dir, name, 'migration.sql'), sql);
}

async function query<T = Record<string, unknown>>(sql: string): Promise<T[]> {
  const c = new Client({ connectionString: db.url });
  await c.connect();
  try {
    return (await c.query(sql)).rows;
  } finally {
    await c.end();
  }
}

beforeEach(async () => {
  db = await freshDatabase();
  dir = mkdtempSync(join(tmpdir(), 'pm-mig-'));
  write('20260101000000_init', 'create table a (id int primary key);');
  write('20260102000000_b', 'create table b (id int primary key references a(id));');
});
afterEach(() => db.drop());

test('applies pending migrations in order, once', async () => {
  expect((await migratePostgres({ databaseUrl: db.url, migrationsDir: dir })).applied).toEqual(['20260101000000_init', '20260102000000_b']);
  expect((await migratePostgres({ databaseUrl: db.url, migrationsDir: dir })).applied).toEqual([]);
  write('20260103000000_c', 'alter table a add column x text;');
  expect((await migratePostgres({ databaseUrl: db.url, migrationsDir: dir })).applied).toEqual(['20260103000000_c']);
});

test('two replicas starting at once: each migration applied exactly once', async () => {
  const results = await Promise.all([1, 2, 3].map(() => migratePostgres({ databaseUrl: db.url, migrationsDir: dir })));
  expect(results.flatMap((r) => r.applied).sort()).toEqual(['20260101000000_init', '20260102000000_b']);
  expect(await query('select count(*)::int as n from _pm_migrations')).toEqual([{ n: 2 }]);
});

test('refuses an edited applied migration and a database from a newer build', async () => {
  await migratePostgres({ databaseUrl: db.url, migrationsDir: dir });
  write('20260101000000_init', 'create table a (id bigint primary key);');
  await expect(migratePostgres({ databaseUrl: db.url, migrationsDir: dir })).rejects.toThrow(/20260101000000_init was edited after it was applied/);
  write('20260101000000_init', 'create table a (id int primary key);');
  const other = mkdtempSync(join(tmpdir(), 'pm-mig-'));
  mkdirSync(join(other, '20260101000000_init'));
  writeFileSync(join(other, '20260101000000_init', 'migration.sql'), 'create table a (id int primary key);');
  await expect(migratePostgres({ databaseUrl: db.url, migrationsDir: other })).rejects.toThrow(MigrationError);
});

test('a failing migration is rolled back whole and not recorded', async () => {
  write('20260103000000_bad', 'create table c (id int); select 1/0;');
  await expect(migratePostgres({ databaseUrl: db.url, migrationsDir: dir })).rejects.toThrow(/20260103000000_bad failed and was rolled back/);
  expect(await query("select to_regclass('c') is null as gone")).toEqual([{ gone: true }]);
  expect((await query('select name from _pm_migrations order by name')).map((r) => r.name)).toEqual(['20260101000000_init', '20260102000000_b']);
});

test('an unreachable or missing database gives one line naming the URL and DATABASE_URL', async () => {
  await expect(migratePostgres({ databaseUrl: 'postgres://postgres:pw@127.0.0.1:1/x', migrationsDir: dir })).rejects.toThrow(
    /^PostgreSQL at postgres:\/\/postgres:\*\*\*@127\.0\.0\.1:1\/x did not answer \(ECONNREFUSED.*fix DATABASE_URL$/,
  );
  const missing = new URL(db.url);
  missing.pathname = '/pm_no_such_database';
  await expect(migratePostgres({ databaseUrl: missing.toString(), migrationsDir: dir })).rejects.toThrow(/the database does not exist/);
});
