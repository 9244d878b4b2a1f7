/**
 * Issue 11: "Measure whether time partitioning (expiry as a partition drop, as Postal's daily
 * raw tables do) beats batched deletes at 1M objects, and keep the faster design."
 *
 * Plain SQL on the same PostgreSQL, in a fresh database (`pm_bench_content_part_*`) migrated
 * with services/content/prisma/migrations, so both tables copy the service's content_objects
 * (columns, checks, defaults, lz4 compression) from the migrations as they stand:
 *
 *   delete  `like content_objects including all` (its primary key, indexes, checks) purged by
 *           the retention sweeper's statement (services/content/src/db/delete-expired-content.ts):
 *           `delete … where storage_key in (select … where expires < cutoff order by expires
 *           limit n for update skip locked)`, batch after batch, then a VACUUM;
 *   drop    the same columns partitioned by range of `expires`, one partition a day (plus a
 *           open-ended one on either side), purged by dropping every partition whose day
 *           is over: half by `drop table`, half by `detach partition … concurrently` + `drop`.
 *
 * The same rows in both (generated in SQL, `--partition-rows`, default 1M small bodies; and a
 * variant with realistic 5-50 KB bodies at `--partition-big-rows`, default 100k): expiry spread
 * evenly over 30 days in insertion order, 10 % of rows with a random expiry in the same window
 * (the per-object overrides), `--expired-days` of the 30 days already over (the cutoff is
 * today's midnight UTC). Readers look objects up by storage key at a fixed rate throughout.
 * Printed: purge time, rows/s, reader p50/p99 before and during, WAL (exact per statement from
 * EXPLAIN (ANALYZE, WAL) for deletes and from pg_walinspect by transaction id for drops; the
 * cluster-wide LSN difference, which includes other sessions, alongside), sizes and bloat
 * (pgstattuple) after. Nothing asserted.
 */
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import { migratePostgres } from '@penguinmails/service-kit';
import { Client, Pool } from 'pg';
import { contentBodies } from './lib/content-bodies';
import { FixedRateLoad, sleep } from './lib/load-gen';
import { createBenchDatabase, installInterruptCleanup } from './lib/pg';
import { bytes, loadAverage, ms, table } from './lib/report';

export interface PartitionOptions {
  smallRows: number;
  /** 0 skips the realistic-body variant. */
  bigRows: number;
  days: number;
  expiredDays: number;
  deleteBatch: number;
  readerRate: number;
  baselineSeconds: number;
}

const log = (s: string) => process.stdout.write(s + '\n');
const DAY = 86_400_000;
const TENANTS = Array.from({ length: 10 }, () => randomUUID());
const BODY_POOL = 1000;

interface Variant {
  name: string;
  rows: number;
  big: boolean;
}

interface Purge {
  method: string;
  rows: number;
  seconds: number;
  walExact: number;
  walCluster: number;
  slowestMs: number;
  readers: ReturnType<FixedRateLoad['window']>;
  readersBefore: ReturnType<FixedRateLoad['window']>;
  sizeBefore: number;
  sizeAfter: number;
  note: string;
}

export async function runPartition(o: PartitionOptions): Promise<string> {
  installInterruptCleanup();
  log(`\n=== content: batched deletes vs daily partitions (load ${loadAverage()}) ===`);
  const db = await createBenchDatabase('pm_bench_content_part');
  const migrationsDir = path.join(path.dirname(require.resolve('@penguinmails/content/package.json')), 'prisma', 'migrations');
  const admin = new Client({ connectionString: db.url });
  const readers = new Pool({ connectionString: db.url, max: 4 });
  // Connections ended by the drop on Ctrl-C (`with (force)`) must not crash the cleanup.
  readers.on('error', () => undefined);
  admin.on('error', () => undefined);
  const sections: string[] = [];
  try {
    await migratePostgres({ databaseUrl: db.url, migrationsDir });
    await admin.connect();
    await admin.query('create extension if not exists pgstattuple');
    await admin.query('create extension if not exists pg_walinspect');
    const cutoff = (await admin.query<{ c: Date }>(`select date_trunc('day', now() at time zone 'utc') at time zone 'utc' as c`)).rows[0].c;
    const variants: Variant[] = [{ name: `${o.smallRows} objects, small bodies (~0.3 KB, inline)`, rows: o.smallRows, big: false }];
    if (o.bigRows > 0) variants.push({ name: `${o.bigRows} objects, 5-50 KB bodies (TOAST)`, rows: o.bigRows, big: true });
    const results: { v: Variant; purges: Purge[]; load: string[] }[] = [];
    for (const v of variants) {
      if (v.big) await stageBodies(admin);
      const purges: Purge[] = [];
      const load: string[] = [];
      // delete: the service's table shape and its sweeper's statement.
      await admin.query('create table bench_plain (like content_objects including all)');
      load.push(`plain ${(await timed(() => fill(admin, 'bench_plain', v, o, cutoff))).toFixed(1)} s`);
      purges.push(await purgeByDelete(admin, readers, v, o, cutoff));
      await admin.query('drop table bench_plain');
      // drop: partitioned by day of expiry.
      await createPartitioned(admin, o, cutoff);
      load.push(`partitioned ${(await timed(() => fill(admin, 'bench_part', v, o, cutoff))).toFixed(1)} s`);
      purges.push(...(await purgeByDrop(admin, readers, v, o, cutoff)));
      await admin.query('drop table bench_part');
      await admin.query('drop table if exists bench_bodies');
      await admin.query('checkpoint');
      results.push({ v, purges, load });
    }
    for (const r of results) sections.push(render(r.v, r.purges, r.load, o));
  } finally {
    await readers.end().catch(() => undefined);
    await admin.end().catch(() => undefined);
    await db.drop();
    log(`database ${db.name} dropped`);
  }
  return (
    `5. Partition vs delete: expiry over ${o.days} days, ${o.expiredDays} days over (cutoff today 00:00 UTC), 10 % per-object overrides; readers: storage-key lookups at ${o.readerRate}/s on 4 connections (open loop, latency from the due time); ` +
    `WAL "exact" = this session's statements only, "cluster" = LSN difference over the purge incl. other sessions on the shared server\n` +
    sections.join('\n\n')
  );
}

async function timed(fn: () => Promise<unknown>): Promise<number> {
  const t = performance.now();
  await fn();
  return (performance.now() - t) / 1000;
}

/** 1,000 distinct realistic bodies in a staging table; rows copy them round-robin (their TOAST values are written again per row, compressed as stored). */
async function stageBodies(c: Client): Promise<void> {
  await c.query('drop table if exists bench_bodies');
  await c.query('create table bench_bodies (id int primary key, content_text text, content_html text, headers jsonb, raw_size_bytes int)');
  const lz4 = (await c.query(`select 1 from pg_settings where name = 'default_toast_compression' and 'lz4' = any(enumvals)`)).rowCount;
  if (lz4) for (const col of ['content_text', 'content_html', 'headers']) await c.query(`alter table bench_bodies alter column ${col} set compression lz4`);
  const bodies = contentBodies(BODY_POOL);
  for (let i = 0; i < bodies.length; i += 100) {
    const s = bodies.slice(i, i + 100);
    await c.query('insert into bench_bodies select * from unnest($1::int[], $2::text[], $3::text[], $4::jsonb[], $5::int[])', [
      s.map((_, j) => i + j),
      s.map((b) => b.text),
      s.map((b) => b.html),
      s.map((b) => JSON.stringify(b.headers)),
      s.map((b) => b.bytes),
    ]);
  }
}

/**
 * Rows 1..N in insertion (= expiry) order: expiry from `cutoff - expiredDays` evenly over `days`,
 * every 10th row a random expiry in the same window (a per-object override); created = expiry −
 * 30 days. Keys `<tenant>/m/<n>` over 10 tenants. Loaded in chunks of 100k rows.
 */
async function fill(c: Client, t: string, v: Variant, o: PartitionOptions, cutoff: Date): Promise<void> {
  const start = new Date(cutoff.getTime() - o.expiredDays * DAY);
  const body = v.big
    ? `b.content_text, b.content_html, b.headers, b.raw_size_bytes`
    : `x.txt, '<p>' || x.txt || '</p>', jsonb_build_object('Subject', 'Re: ' || left(md5(g::text), 12), 'Message-ID', '<' || g || '@bench.example>'), octet_length(x.txt) * 2 + 80`;
  const join = v.big ? `join bench_bodies b on b.id = g % ${BODY_POOL}` : '';
  for (let from = 1; from <= v.rows; from += 100_000) {
    const to = Math.min(v.rows, from + 99_999);
    await c.query(
      `insert into ${t} (storage_key, tenant_id, content_text, content_html, headers, raw_size_bytes, created, expires)
       select tn.tenant || '/m/' || g, tn.tenant::uuid, ${body}, e.e - interval '30 days', e.e
         from generate_series($1::int, $2::int) g
        cross join lateral (select ($3::text[])[1 + g % 10] as tenant) tn
        cross join lateral (select $4::timestamptz + make_interval(secs => (case when g % 10 = 0 then random() else g::float8 / $5 end) * $6 * 86400 * 0.999999) as e) e
        cross join lateral (select 'Hi, ' || md5(g::text) || repeat(' Thanks, talk soon.', 1 + g % 8) as txt) x
        ${join}`,
      [from, to, TENANTS, start, v.rows, o.days],
    );
  }
  await c.query(`vacuum analyze ${t}`);
}

/** Partitioned by day of `expires`: one partition per day of the window, open-ended ones before and after. */
async function createPartitioned(c: Client, o: PartitionOptions, cutoff: Date): Promise<void> {
  await c.query(`create table bench_part (like content_objects including defaults including constraints including compression including storage) partition by range (expires)`);
  // A unique constraint of a partitioned table must contain the partition key: storage_key
  // alone can no longer be unique across the table (see the README's decision).
  await c.query('alter table bench_part add constraint bench_part_key unique (storage_key, expires)');
  await c.query('create index bench_part_tenant_created_idx on bench_part (tenant_id, created)');
  await c.query('create index bench_part_created_idx on bench_part (created)');
  const start = cutoff.getTime() - o.expiredDays * DAY;
  for (let d = 0; d < o.days; d++) {
    const a = new Date(start + d * DAY).toISOString();
    const b = new Date(start + (d + 1) * DAY).toISOString();
    await c.query(`create table ${partName(start + d * DAY)} partition of bench_part for values from ('${a}') to ('${b}')`);
  }
  // No default partition: DETACH … CONCURRENTLY refuses to run while one exists (seen here:
  // "cannot detach partitions concurrently when a default partition exists"). Range partitions
  // cannot hold NULL, so objects kept forever would need `expires = 'infinity'` (a not-null
  // column) to land in the open-ended partition below.
  await c.query(`create table bench_part_before partition of bench_part for values from (minvalue) to ('${new Date(start).toISOString()}')`);
  await c.query(`create table bench_part_after partition of bench_part for values from ('${new Date(start + o.days * DAY).toISOString()}') to (maxvalue)`);
}

const partName = (t: number) => `bench_part_d${new Date(t).toISOString().slice(0, 10).replace(/-/g, '')}`;

/** Storage keys of rows that live well past the purge (not overrides, expiry ≥ cutoff + 1 day). */
function liveKey(v: Variant, o: PartitionOptions, n: number): [string, string] {
  const lo = Math.ceil((v.rows * (o.expiredDays + 1)) / o.days);
  let g = lo + ((n * 7919) % Math.max(1, v.rows - lo));
  if (g % 10 === 0) g++;
  const tenant = TENANTS[g % 10];
  return [`${tenant}/m/${g}`, tenant];
}

function startReaders(pool: Pool, t: string, v: Variant, o: PartitionOptions): FixedRateLoad {
  return new FixedRateLoad(o.readerRate, 32, async (n) => {
    const [key, tenant] = liveKey(v, o, n);
    const { rows } = await pool.query({
      name: `read_${t}`,
      text: `select storage_key, tenant_id, content_text, content_html, headers, raw_size_bytes, created, expires from ${t}
              where storage_key = $1 and tenant_id = $2 and (expires is null or expires > now())`,
      values: [key, tenant],
    });
    if (rows.length !== 1) throw new Error(`reader found ${rows.length} rows for ${key}`);
  });
}

async function lsn(c: Client, fn: 'insert' | 'flush' = 'insert'): Promise<string> {
  return (await c.query<{ l: string }>(`select pg_current_wal_${fn}_lsn()::text as l`)).rows[0].l;
}

async function lsnDiff(c: Client, a: string): Promise<number> {
  return Number((await c.query<{ d: string }>(`select pg_wal_lsn_diff(pg_current_wal_insert_lsn(), $1::pg_lsn)::text as d`, [a])).rows[0].d);
}

async function totalSize(c: Client, t: string): Promise<number> {
  // A partitioned table's own size is 0: sum its partitions; pg_partition_tree lists nothing for a plain table.
  const { rows } = await c.query<{ s: string }>(
    `select case when c.relkind = 'p' then (select coalesce(sum(pg_total_relation_size(relid)), 0) from pg_partition_tree(c.oid))
                 else pg_total_relation_size(c.oid) end::text as s
       from pg_class c where c.oid = $1::regclass`,
    [t],
  );
  return Number(rows[0].s);
}

async function baseline(readers: Pool, t: string, v: Variant, o: PartitionOptions) {
  const r = startReaders(readers, t, v, o);
  const t0 = performance.now();
  await sleep(o.baselineSeconds * 1000);
  await r.stop();
  return r.window(t0, t0 + o.baselineSeconds * 1000);
}

async function purgeByDelete(c: Client, readers: Pool, v: Variant, o: PartitionOptions, cutoff: Date): Promise<Purge> {
  const expired = Number((await c.query<{ n: string }>(`select count(*)::text as n from bench_plain where expires < $1`, [cutoff])).rows[0].n);
  const sizeBefore = await totalSize(c, 'bench_plain');
  await c.query('checkpoint'); // both methods start right after a checkpoint (same full-page-image regime)
  const before = await baseline(readers, 'bench_plain', v, o);
  const r = startReaders(readers, 'bench_plain', v, o);
  const l0 = await lsn(c);
  const t0 = performance.now();
  let rows = 0;
  let wal = 0;
  let slowest = 0;
  let batches = 0;
  let walRecords = 0;
  let walFpi = 0;
  const cut = cutoff.toISOString();
  // The sweeper's statement (literal values: EXPLAIN takes no bind parameters). EXPLAIN
  // (ANALYZE, WAL) runs it and reports the WAL it wrote (inclusive of its child nodes).
  for (;;) {
    const s = performance.now();
    const { rows: plan } = await c.query<{ 'QUERY PLAN': [{ Plan: Record<string, unknown> & { Plans?: Record<string, unknown>[] } }] }>(
      `explain (analyze, wal, timing off, summary off, format json)
       delete from bench_plain c
        where c.storage_key in (
                select storage_key from bench_plain
                 where expires < '${cut}'
                 order by expires
                 limit ${o.deleteBatch}
                   for update skip locked)`,
    );
    slowest = Math.max(slowest, performance.now() - s);
    const top = plan[0]['QUERY PLAN'][0].Plan;
    const n = Number(top.Plans?.[0]?.['Actual Rows'] ?? 0);
    wal += Number(top['WAL Bytes'] ?? 0);
    walRecords += Number(top['WAL Records'] ?? 0);
    walFpi += Number(top['WAL FPI'] ?? 0);
    rows += n;
    batches++;
    if (n < o.deleteBatch) break;
  }
  const seconds = (performance.now() - t0) / 1000;
  const walCluster = await lsnDiff(c, l0);
  await sleep(200);
  await r.stop();
  const during = r.window(t0, t0 + seconds * 1000);
  const left = Number((await c.query<{ n: string }>(`select count(*)::text as n from bench_plain where expires < $1`, [cutoff])).rows[0].n);
  // Right after: most deleted tuples are already pruned to free space by the next batches' and
  // the readers' visits (heap_page_prune_opt), so free_percent says more than dead_tuple_percent.
  const st = (await c.query<{ dead: number; free: number }>(`select dead_tuple_percent as dead, free_percent as free from pgstattuple('bench_plain')`)).rows[0];
  const sizePurged = await totalSize(c, 'bench_plain');
  const l1 = await lsn(c);
  const vacuumSeconds = await timed(() => c.query('vacuum bench_plain'));
  const vacuumWal = await lsnDiff(c, l1);
  const free = (await c.query<{ p: number }>(`select free_percent as p from pgstattuple('bench_plain')`)).rows[0].p;
  const sizeAfter = await totalSize(c, 'bench_plain');
  log(`  ${v.name}: delete purge ${rows} rows in ${seconds.toFixed(1)} s (${batches} batches)`);
  return {
    method: `batched delete (${o.deleteBatch} a statement, ${batches} statements) + vacuum`,
    rows,
    seconds,
    walExact: wal,
    walCluster,
    slowestMs: slowest,
    readers: during,
    readersBefore: before,
    sizeBefore,
    sizeAfter,
    note:
      `expired before ${expired}, left ${left}; WAL ${walRecords} records of which ${walFpi} full-page images (first change of a page after the checkpoint); right after: ${bytes(sizePurged)}, heap dead tuples ${st.dead.toFixed(1)} % + free space ${st.free.toFixed(1)} %; ` +
      `VACUUM ${vacuumSeconds.toFixed(1)} s, WAL ${bytes(vacuumWal)} (cluster); after it free space ${free.toFixed(1)} % of the heap (reused by new rows, not returned)`,
  };
}

async function purgeByDrop(c: Client, readers: Pool, v: Variant, o: PartitionOptions, cutoff: Date): Promise<Purge[]> {
  const start = cutoff.getTime() - o.expiredDays * DAY;
  const days = Array.from({ length: o.expiredDays }, (_, d) => partName(start + d * DAY));
  const counts = new Map(
    (await c.query<{ t: string; n: string }>(`select tableoid::regclass::text as t, count(*)::text as n from bench_part group by 1`)).rows.map((r) => [r.t, Number(r.n)]),
  );
  await c.query('checkpoint');
  const before = await baseline(readers, 'bench_part', v, o);
  const out: Purge[] = [];
  const half = Math.ceil(days.length / 2);
  for (const [method, list] of [
    ['drop table (a partition a day)', days.slice(0, half)],
    ['detach partition concurrently + drop table', days.slice(half)],
  ] as const) {
    if (!list.length) continue;
    const sizeBefore = await totalSize(c, 'bench_part');
    const r = startReaders(readers, 'bench_part', v, o);
    await sleep(200);
    const l0 = await lsn(c);
    const t0 = performance.now();
    let rows = 0;
    let exact = 0;
    let slowest = 0;
    for (const p of list) {
      const s = performance.now();
      const a = await lsn(c);
      if (method.startsWith('detach')) await c.query(`alter table bench_part detach partition ${p} concurrently`);
      // One implicit transaction: the drop, then its transaction id (for pg_walinspect).
      const res = (await c.query(`drop table ${p}; select (pg_current_xact_id()::xid)::text as xid`)) as unknown as { rows: { xid: string }[] }[];
      slowest = Math.max(slowest, performance.now() - s);
      const b = await lsn(c, 'flush');
      const xid = res[1].rows[0].xid;
      const w = await c.query<{ b: string }>(`select coalesce(sum(record_length), 0)::text as b from pg_get_wal_records_info($1::pg_lsn, $2::pg_lsn) where xid::text = $3`, [a, b, xid]);
      exact += Number(w.rows[0].b);
      rows += counts.get(p) ?? 0;
    }
    const seconds = (performance.now() - t0) / 1000;
    const walCluster = await lsnDiff(c, l0);
    await sleep(200);
    await r.stop();
    const during = r.window(t0, t0 + Math.max(seconds, 0.001) * 1000);
    log(`  ${v.name}: ${method}: ${rows} rows in ${seconds.toFixed(2)} s`);
    out.push({
      method,
      rows,
      seconds,
      walExact: exact,
      walCluster,
      slowestMs: slowest,
      readers: during,
      readersBefore: before,
      sizeBefore,
      sizeAfter: await totalSize(c, 'bench_part'),
      note: `${list.length} partitions; slowest ${ms(slowest)} ms; WAL exact = the drops' transactions${method.startsWith('detach') ? ' (the detach itself only in cluster)' : ''}; no vacuum needed`,
    });
  }
  const left = Number((await c.query<{ n: string }>(`select count(*)::text as n from bench_part where expires < $1`, [cutoff])).rows[0].n);
  if (left) out[out.length - 1].note += `; ${left} expired rows left (in the default partition)`;
  return out;
}

function render(v: Variant, purges: Purge[], load: string[], o: PartitionOptions): string {
  const rows = purges.map((p) => [
    p.method,
    p.rows,
    p.seconds.toFixed(2),
    Math.round(p.rows / Math.max(p.seconds, 1e-6)),
    bytes(p.walExact),
    bytes(p.walCluster),
    `${ms(p.readersBefore.p50)} / ${ms(p.readersBefore.p99)}`,
    `${ms(p.readers.p50)} / ${ms(p.readers.p99)} (n=${p.readers.n}${p.readers.errors ? `, ${p.readers.errors} errors` : ''})`,
    ms(p.readers.max),
    `${bytes(p.sizeBefore)} → ${bytes(p.sizeAfter)}`,
  ]);
  return (
    `${v.name} (load: ${load.join(', ')}; delete batch ${o.deleteBatch})\n` +
    table(['purge', 'rows', 'seconds', 'rows/s', 'WAL exact', 'WAL cluster', 'readers before p50/p99 ms', 'readers during p50/p99 ms', 'max ms', 'size before → after'], rows) +
    '\n' +
    purges.map((p) => `- ${p.method}: ${p.note}`).join('\n')
  );
}
