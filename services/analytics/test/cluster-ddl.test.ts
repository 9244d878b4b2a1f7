import { readMigrations } from '@penguinmails/service-kit';
import { loadAnalyticsConfig } from '../src/config';
import { ClusterDdl } from '../src/db/cluster-ddl';
import { MIGRATIONS_DIR, migrateClickHouse, setupStatements, withDatabase } from '../src/db/migrate';
import { splitStatements } from '../src/db/split-statements';
import { freshStore, type TestStore } from './harness';

// Cluster mode (CLICKHOUSE_CLUSTER): every migration file in clickhouse/migrations, read as the
// runner reads it (so migrations added later are covered with no change here), rendered as
// cluster DDL; then ClickHouse's own parser (chDB's formatQuery) checks each rendered statement
// and the assertions read its canonical form. Applying it needs a ClickHouse cluster with
// Keeper, which this machine does not have: the last test shows the runner sending the cluster
// form to a real (single, cluster-less) ClickHouse, which refuses it for that reason.

const CLUSTER = 'pm_cluster';
const DATABASE = 'pm_analytics';

let db: TestStore;
beforeAll(async () => {
  db = await freshStore({ migrate: false });
});
afterAll(async () => {
  await db?.drop();
});

/** ClickHouse's formatting of a statement; throws (a syntax error) when it does not parse. */
async function format(query: string): Promise<string> {
  const rows = await (
    await db.store.client.query({ query: 'select formatQuery({q:String}) as f', query_params: { q: query }, format: 'JSONEachRow' })
  ).json<{ f: string }>();
  return rows[0].f.replace(/\s+/g, ' ');
}

interface Rendered {
  migration: string;
  source: string;
  formatted: string[];
}

async function renderAll(): Promise<{ files: ReturnType<typeof readMigrations>; rendered: Rendered[] }> {
  const files = readMigrations(MIGRATIONS_DIR);
  const setup = setupStatements(DATABASE);
  const perFile = files.map((f) => ({ migration: f.name, statements: splitStatements(withDatabase(f.sql, DATABASE)) }));
  const ddl = new ClusterDdl({ cluster: CLUSTER, database: DATABASE }, [...setup, ...perFile.flatMap((f) => f.statements)]);
  const rendered: Rendered[] = [];
  for (const f of [{ migration: 'runner setup', statements: setup }, ...perFile]) {
    for (const source of f.statements) {
      const formatted: string[] = [];
      for (const s of ddl.render(source)) {
        try {
          formatted.push(await format(s));
        } catch (err) {
          throw new Error(`${f.migration}: rendered statement does not parse: ${s}\n${(err as Error).message}`);
        }
      }
      rendered.push({ migration: f.migration, source, formatted });
    }
  }
  return { files, rendered };
}

const tableOf = (formatted: string) => /^CREATE TABLE (?:IF NOT EXISTS )?\S+\.(\w+) /.exec(formatted)?.[1];

describe('ClickHouse cluster DDL (CLICKHOUSE_CLUSTER)', () => {
  it('renders every migration: ON CLUSTER on every DDL, replicated engines, a Distributed table per local table', async () => {
    const { files, rendered } = await renderAll();
    expect(files.length).toBeGreaterThanOrEqual(5);
    expect(new Set(rendered.map((r) => r.migration)).size).toBe(files.length + 1);
    const all = rendered.flatMap((r) => r.formatted.map((f) => ({ migration: r.migration, f })));

    for (const { migration, f } of all) {
      if (/^(CREATE|ALTER|DROP|RENAME|OPTIMIZE|TRUNCATE)\b/.test(f)) expect([migration, f, / ON CLUSTER pm_cluster\b/.test(f)]).toEqual([migration, f, true]);
      else expect([migration, f.slice(0, 40)]).toEqual([migration, expect.stringMatching(/^INSERT INTO /)]);
      // No plain MergeTree left: every MergeTree-family engine is its Replicated form.
      expect([migration, f, /ENGINE = (?!Replicated)\w*MergeTree/.test(f)]).toEqual([migration, f, false]);
      if (f.startsWith('INSERT')) expect(f).toMatch(/ SETTINGS insert_distributed_sync = 1 /);
    }

    // Each MergeTree-family table of the single-server files...
    const singleServer = rendered.filter((r) => /^\s*create\s+table/im.test(r.source.replace(/--[^\n]*\n/g, '')) && /engine\s*=\s*\w*MergeTree/i.test(r.source));
    expect(singleServer.length).toBeGreaterThanOrEqual(5); // the ledger, email_events (001, 003), three rollups (004)
    for (const r of singleServer) {
      const [local, dist] = r.formatted;
      const name = tableOf(dist)!;
      // ...is a Replicated table `<name>_local` with its own Keeper path and the original engine's arguments...
      expect(tableOf(local)).toBe(`${name}_local`);
      expect(local).toMatch(new RegExp(`ENGINE = Replicated\\w*MergeTree\\('/clickhouse/tables/\\{shard\\}/\\{database\\}/${name}_local', '\\{replica\\}'`));
      // ...and a Distributed table under the original name over it, on every node.
      expect(dist).toMatch(new RegExp(`AS pm_analytics\\.${name}_local ENGINE = Distributed\\('${CLUSTER}', '${DATABASE}', '${name}_local', (cityHash64\\(tenant_id\\)|rand\\(\\))\\)`));
    }
    const created = all.map((a) => tableOf(a.f)).filter(Boolean);
    expect(created).toEqual(
      expect.arrayContaining(['email_events_local', 'email_events', 'campaign_analytics_hourly_local', 'campaign_analytics_hourly', '_pm_migrations_local', '_pm_migrations']),
    );
    // 006: the raw table the writer fills, its key index and the count rollups, each local + Distributed.
    expect(created).toEqual(expect.arrayContaining(['events_local', 'events', 'event_keys_local', 'event_keys', 'campaign_hourly_local', 'campaign_hourly']));
    const ev = rendered.filter((r) => r.migration.startsWith('006')).flatMap((r) => r.formatted);
    expect(ev.find((f) => f.includes("'/clickhouse/tables/{shard}/{database}/events_local'"))).toContain('ENGINE = ReplicatedCollapsingMergeTree(');
    expect(ev.find((f) => f.includes("'/clickhouse/tables/{shard}/{database}/campaign_hourly_local'"))).toContain('ENGINE = ReplicatedAggregatingMergeTree(');

    // email_events keeps its engine's version column and is sharded by tenant (duplicates of an
    // event meet on one shard); the ledger has no tenant: rand().
    const ee = rendered.find((r) => r.migration.startsWith('001'))!.formatted;
    expect(ee[0]).toContain("ENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/{database}/email_events_local', '{replica}', ingested_at)");
    expect(ee[1]).toContain("'email_events_local', cityHash64(tenant_id))");
    expect(rendered[1].formatted[1]).toContain("'_pm_migrations_local', rand())");

    // Materialized views: created on every node, read the local raw table, write the local rollup.
    const mvs = all.filter((a) => a.f.startsWith('CREATE MATERIALIZED VIEW'));
    expect(mvs.length).toBeGreaterThanOrEqual(3);
    for (const { f } of mvs) {
      expect(f).toMatch(/ TO pm_analytics\.\w+_local AS SELECT /);
      expect(f).toMatch(/ FROM pm_analytics\.(email_events|events)_local( |$)/);
    }
    // Plain views read the Distributed tables (all shards).
    for (const { f } of all.filter((a) => /^CREATE VIEW/.test(a.f))) expect(f).not.toMatch(/_local\b/);

    // 003's rename swaps the local tables and rebuilds the Distributed ones over them.
    const swap = rendered.find((r) => /^\s*rename/im.test(r.source.replace(/--[^\n]*\n/g, '')))!.formatted;
    expect(swap[0]).toBe(
      'RENAME TABLE pm_analytics.email_events_local TO pm_analytics.email_events_002_local, pm_analytics.email_events_003_local TO pm_analytics.email_events_local ON CLUSTER pm_cluster',
    );
    expect(swap.slice(1).filter((f) => f.startsWith('DROP TABLE IF EXISTS')).length).toBe(3);
    expect(swap.slice(-2).map(tableOf)).toEqual(['email_events_002', 'email_events']);
    // 005's column reaches the local table and the Distributed one (which has its own columns).
    const variant = rendered.find((r) => r.migration.startsWith('005'))!.formatted;
    expect(variant.map((f) => /^ALTER TABLE pm_analytics\.(\w+) /.exec(f)?.[1])).toEqual(['email_events_local', 'email_events']);
  });

  it('refuses a statement form it does not know, naming the module to teach', () => {
    const ddl = new ClusterDdl({ cluster: CLUSTER, database: DATABASE }, []);
    expect(() => ddl.render('select 1')).toThrow(/cluster mode cannot render this statement: "select 1"; teach services\/analytics\/src\/db\/cluster-ddl\.ts/);
    expect(() => ddl.render('create materialized view v engine = Memory as select 1')).toThrow(/must name its target table/);
    expect(() => ddl.render("create table t (a UInt8) engine = ReplicatedMergeTree('/p', 'r') order by a")).toThrow(/already Replicated/);
    expect(() => new ClusterDdl({ cluster: "x' or 1", database: DATABASE }, [])).toThrow(/not a plain name/);
  });

  it('CLICKHOUSE_CLUSTER needs CLICKHOUSE_URL, and names a valid cluster', () => {
    expect(() => loadAnalyticsConfig({ CLICKHOUSE_CLUSTER: 'pm' })).toThrow(/CLICKHOUSE_CLUSTER: needs CLICKHOUSE_URL/);
    expect(() => loadAnalyticsConfig({ CLICKHOUSE_CLUSTER: "pm'; drop", CLICKHOUSE_URL: 'http://ch:8123' })).toThrow(/CLICKHOUSE_CLUSTER/);
    expect(loadAnalyticsConfig({ CLICKHOUSE_CLUSTER: 'pm', CLICKHOUSE_URL: 'http://ch:8123' }).CLICKHOUSE_CLUSTER).toBe('pm');
  });

  it('the runner sends the cluster form: a ClickHouse without that cluster refuses its first statement, and nothing is created', async () => {
    await expect(migrateClickHouse({ store: db.store, cluster: CLUSTER })).rejects.toThrow(/pm_cluster/);
    const tables = await (
      await db.store.client.query({ query: 'select count() as n from system.tables where database = {db:String}', query_params: { db: db.store.database }, format: 'JSONEachRow' })
    ).json<{ n: number | string }>();
    expect(Number(tables[0].n)).toBe(0);
  });
});
