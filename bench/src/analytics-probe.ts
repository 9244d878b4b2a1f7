/**
 * `npx tsx src/analytics-probe.ts [--events 300000] [--reps 200]`
 *
 * Where the milliseconds of GetCampaignMetrics go (issue 10): the same data set as
 * analytics-olap.ts (its generator; one tenant, 40 campaigns, 30 days), written through the
 * service's writer into chDB, then — without gRPC unless named — query shapes timed in
 * round-robin (each rep runs every variant once, so load changes hit all of them alike):
 * chDB's floor (`select 1`), one key-range read, the service's campaign-metrics query and its
 * parts, the 006 shape (hourly rollup + raw `events` for the cut hours), settings such as
 * max_threads for tiny reads, and the same query through chDB's native call (no
 * @clickhouse/client wrapping). p50 / p90 in ms. Printed, never asserted.
 * `--backfill`: instead, time migration 007's backfill statements over the written events (the
 * minute rollups emptied first, then filled by the backfill; a second run of them timed too).
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { analyticsV1 } from '@penguinmails/contracts';
import { call, connect, createLogger } from '@penguinmails/service-kit';
import { generate, ingestRows } from './analytics-olap';
import { rollupSource as rollupSource006 } from './lib/rollup-source-006';
import { intArg, parseArgs, percentile, table } from './lib/report';

const ANALYTICS = join(__dirname, '..', '..', 'services', 'analytics', 'src');
/* eslint-disable @typescript-eslint/no-require-imports */
const load = (m: string) => require(join(ANALYTICS, m));

const DAY = 86_400_000;

async function main() {
  const args = parseArgs(process.argv.slice(2));
  const n = intArg(args, 'events', 300_000, 1_000, 5_000_000);
  const reps = intArg(args, 'reps', 200, 5, 10_000);
  const w = generate(n);
  const { createStore } = load('db/client');
  const { migrateClickHouse } = load('db/migrate');
  const { ingestEvents } = load('domain/events');
  const { queryMetrics } = load('db/query-metrics');
  const { rollupSource, mergedCounts, RAW_COUNT_ARRAY, NIL, chTime, ceilMinute } = load('db/rollup-source');
  const { createServer } = load('server');
  const dir = mkdtempSync(join(tmpdir(), 'pm-probe-chdb-'));
  const store = createStore({ kind: 'chdb', path: dir }, 'probe');
  try {
    await migrateClickHouse({ store });
    const rows = ingestRows(w.events);
    const t0 = performance.now();
    for (let i = 0; i < rows.length; i += 20_000) await ingestEvents(store, w.tenantId, rows.slice(i, i + 20_000));
    process.stdout.write(`${n.toLocaleString()} events written in ${((performance.now() - t0) / 1000).toFixed(1)} s\n`);
    for (const t of ['events', 'campaign_hourly', 'campaign_minutely', 'mailbox_hourly', 'mailbox_minutely']) await store.client.command({ query: `optimize table ${store.table(t)} final` });
    const q = async (query: string, params: Record<string, unknown> = {}, settings?: Record<string, unknown>) =>
      (await store.client.query({ query, query_params: params, format: 'JSONEachRow', ...(settings ? { clickhouse_settings: settings } : {}) })).json();
    if (args.flags.has('backfill')) {
      const { MIGRATIONS_DIR, withDatabase } = load('db/migrate');
      const { splitStatements } = load('db/split-statements');
      const inserts = (splitStatements(withDatabase(readFileSync(join(MIGRATIONS_DIR, '007_minute_rollups.sql'), 'utf8'), store.database)) as string[]).filter((st) =>
        /^\s*(--[^\n]*\n\s*)*insert/i.test(st),
      );
      const minuteRows = async () =>
        (await q(`select (select count() from ${store.table('campaign_minutely')}) + (select count() from ${store.table('mailbox_minutely')}) + (select count() from ${store.table('sequence_step_minutely')}) as n`)) as { n: number }[];
      process.stdout.write(`minute rollup rows written by the views: ${(await minuteRows())[0].n}\n`);
      for (const t of ['campaign_minutely', 'mailbox_minutely', 'sequence_step_minutely']) await store.client.command({ query: `truncate table ${store.table(t)}` });
      for (const run of ['backfill', 'rerun']) {
        const b0 = performance.now();
        for (const st of inserts) await store.client.command({ query: st });
        process.stdout.write(`007 ${run} (${inserts.length} statements): ${((performance.now() - b0) / 1000).toFixed(1)} s; minute rollup rows now ${(await minuteRows())[0].n}\n`);
      }
      return;
    }

    const end = new Date(w.now + 60_000);
    const start = new Date(end.getTime() - 30 * DAY);
    const camp = (i: number) => w.campaigns[i % w.campaigns.length];
    const metricsSql = (i: number) => {
      const params: Record<string, string | number> = {};
      const source = rollupSource(store.table, { rollup: 'campaign', tenantId: w.tenantId, ids: { campaign_id: camp(i) }, start, end }, params, 's');
      return {
        params,
        sql: `select toDate(hour) as day, grouping(day) as is_total, toString(day) as date, ${mergedCounts()} from (${source}) group by grouping sets ((day), ()) order by is_total, day`,
      };
    };
    // 006's shape: whole hours from the hourly rollup, the cut parts from the raw events.
    const sql006 = (i: number) => {
      const wf = new Date(Math.ceil(start.getTime() / 3_600_000) * 3_600_000);
      const wt = new Date(Math.floor(end.getTime() / 3_600_000) * 3_600_000);
      return {
        params: { t: w.tenantId, c: camp(i), wf: chTime(wf), wt: chTime(wt), s: chTime(start), e: chTime(end) },
        sql: `select toDate(hour) as day, grouping(day) as is_total, toString(day) as date, ${mergedCounts()} from (
          select campaign_id, hour, counts from ${store.table('campaign_hourly')} where tenant_id = {t:UUID} and campaign_id = {c:UUID} and hour >= {wf:DateTime64(3, 'UTC')} and hour < {wt:DateTime64(3, 'UTC')}
          union all
          select campaign_id, toStartOfHour(toDateTime(occurred_at, 'UTC')) as hour, sumForEachState(${RAW_COUNT_ARRAY}) as counts from ${store.table('events')}
          where tenant_id = {t:UUID} and campaign_id = {c:UUID} and campaign_id != ${NIL} and ((occurred_at >= {s:DateTime64(3, 'UTC')} and occurred_at < {wf:DateTime64(3, 'UTC')}) or (occurred_at >= {wt:DateTime64(3, 'UTC')} and occurred_at < {e:DateTime64(3, 'UTC')}))
          group by campaign_id, hour) group by grouping sets ((day), ()) order by is_total, day`,
      };
    };
    // Parameters spliced in (probe only: fixed UUIDs and times) for chDB's native call, which takes no parameters.
    const inline = (sql: string, params: Record<string, string | number>) =>
      sql.replace(/\{([a-z0-9_]+):([^}]+)\}/gi, (_m, name: string, type: string) => (type === 'UUID' ? `toUUID('${params[name]}')` : `toDateTime64('${params[name]}', 3, 'UTC')`));

    const logger = createLogger({ service: 'probe', level: 'silent' });
    const server = createServer({ store, logger, limits: { maxBatch: 1000, maxFutureMs: 300_000 } });
    const port: number = await server.listen('127.0.0.1', 0);
    const client = connect(analyticsV1.AnalyticsServiceClient, `127.0.0.1:${port}`);

    const hourOnly = (i: number) => ({
      params: { t: w.tenantId, c: camp(i), wf: chTime(new Date(Math.ceil(ceilMinute(start).getTime() / 3_600_000) * 3_600_000)), wt: chTime(new Date(Math.floor(ceilMinute(end).getTime() / 3_600_000) * 3_600_000)) },
      sql: `select toDate(hour) as day, grouping(day) as is_total, toString(day) as date, ${mergedCounts()} from (select hour, counts from ${store.table('campaign_hourly')} where tenant_id = {t:UUID} and campaign_id = {c:UUID} and hour >= {wf:DateTime64(3, 'UTC')} and hour < {wt:DateTime64(3, 'UTC')}) group by grouping sets ((day), ()) order by is_total, day`,
    });
    // The mailbox and tenant-wide questions' SQL (as src/db/query-*.ts build it), over either read shape.
    type Source = typeof rollupSource;
    const mbox = (i: number) => w.mailboxes[i % w.mailboxes.length];
    const health = (src: Source, mailbox?: string) => {
      const params: Record<string, string | number> = {};
      const ids = mailbox ? { email_account_id: mailbox } : {};
      const a = src(store.table, { rollup: 'mailbox', tenantId: w.tenantId, ids, start: new Date(end.getTime() - 28 * DAY), end, tag: 0 }, params, 'a');
      const b = src(store.table, { rollup: 'mailbox', tenantId: w.tenantId, ids, start: new Date(end.getTime() - DAY), end, tag: 1 }, params, 'b');
      return q(`select toString(email_account_id) as mailbox, sumForEachMergeIf(counts, w = 1)[1] as sent_24h, ${mergedCounts('w = 0', 'd28_')} from (${a} union all ${b}) group by email_account_id order by mailbox limit 10000`, params);
    };
    const series = (src: Source, mailbox: string) => {
      const params: Record<string, string | number> = {};
      const s = src(store.table, { rollup: 'mailbox', tenantId: w.tenantId, ids: { email_account_id: mailbox }, start: new Date(end.getTime() - 7 * DAY), end }, params, 's');
      return q(`select hour as bucket, ${mergedCounts()} from (${s}) group by bucket order by bucket`, params);
    };
    const top = (src: Source) => {
      const params: Record<string, string | number> = {};
      const s = src(store.table, { rollup: 'campaign', tenantId: w.tenantId, start, end }, params, 's');
      return q(`select campaign_id, ${mergedCounts()} from (${s}) group by campaign_id order by n_counts[5] / greatest(n_counts[1], 1) desc limit 10`, params);
    };
    const shapes: [string, Source][] = [['006', rollupSource006 as Source], ['007', rollupSource]];
    const variants: [string, (i: number) => Promise<unknown>][] = [
      ...shapes.map(([v, src]): [string, (i: number) => Promise<unknown>] => [`mailbox hourly series 7 d, ${v} shape`, (i) => series(src, mbox(i))]),
      ...shapes.map(([v, src]): [string, (i: number) => Promise<unknown>] => [`mailbox health (24 h + 28 d), ${v} shape`, (i) => health(src, mbox(i))]),
      ...shapes.map(([v, src]): [string, (i: number) => Promise<unknown>] => [`mailbox health list (200 mailboxes), ${v} shape`, () => health(src)]),
      ...shapes.map(([v, src]): [string, (i: number) => Promise<unknown>] => [`top campaigns 30 d, ${v} shape`, () => top(src)]),
      ['select 1 (@clickhouse/client, JSONEachRow)', () => q('select 1')],
      ['select 1 (chDB native call)', () => store.native!.queryAsync('select 1', { format: 'JSONEachRow' })],
      ['count() of one campaign in campaign_hourly', (i) => q(`select count() from ${store.table('campaign_hourly')} where tenant_id = {t:UUID} and campaign_id = {c:UUID}`, { t: w.tenantId, c: camp(i) })],
      ['hour column of one campaign, 30 d (no counts)', (i) => q(`select hour from ${store.table('campaign_hourly')} where tenant_id = {t:UUID} and campaign_id = {c:UUID} and hour >= now() - interval 30 day`, { t: w.tenantId, c: camp(i) })],
      ['sumForEachMerge(counts) of one campaign, 30 d', (i) => q(`select sumForEachMerge(counts) from ${store.table('campaign_hourly')} where tenant_id = {t:UUID} and campaign_id = {c:UUID} and hour >= now() - interval 30 day`, { t: w.tenantId, c: camp(i) })],
      ['metrics 30 d, 006 shape (hourly + raw events edges)', (i) => { const s = sql006(i); return q(s.sql, s.params); }],
      ['metrics 30 d, 007 (queryMetrics: hourly + minute edges)', (i) => queryMetrics(store, { tenantId: w.tenantId, column: 'campaign_id', id: camp(i), start, end })],
      ...(
        [
          ['max_threads = 1', { max_threads: 1 }],
          ['enable_analyzer = 0 (the old planner)', { enable_analyzer: 0 }],
          ['optimize_use_implicit_projections = 0', { optimize_use_implicit_projections: 0 }],
          ['use_uncompressed_cache = 1', { use_uncompressed_cache: 1 }],
          ['use_skip_indexes = 0', { use_skip_indexes: 0 }],
          ['all five', { max_threads: 1, enable_analyzer: 0, optimize_use_implicit_projections: 0, use_uncompressed_cache: 1, use_skip_indexes: 0 }],
          // how a tiny read reaches the files: a synchronous pread instead of the thread pool, mmap, no prefetch pool
          ["local_filesystem_read_method = 'pread'", { local_filesystem_read_method: 'pread' }],
          ["local_filesystem_read_method = 'mmap'", { local_filesystem_read_method: 'mmap', min_bytes_to_use_mmap_io: 1 }],
          ['allow_prefetched_read_pool_for_local_filesystem = 0', { allow_prefetched_read_pool_for_local_filesystem: 0 }],
          ['log_queries = 0', { log_queries: 0 }],
          ["pread + max_threads = 1 + no prefetch pool + log_queries = 0", { local_filesystem_read_method: 'pread', max_threads: 1, allow_prefetched_read_pool_for_local_filesystem: 0, log_queries: 0 }],
        ] as [string, Record<string, number | string>][]
      ).map(([name, settings]): [string, (i: number) => Promise<unknown>] => [`  the same SQL, ${name}`, (i) => { const s = metricsSql(i); return q(s.sql, s.params, settings); }]),
      ['  the same SQL through chDB native call', (i) => { const s = metricsSql(i); return store.native!.queryAsync(inline(s.sql, s.params), { format: 'JSONEachRow' }); }],
      ['  its whole hours only (one table)', (i) => { const s = hourOnly(i); return q(s.sql, s.params); }],
      ['  its minute edges only (one table)', (i) => { const s = metricsSql(i); const src = s.sql.slice(s.sql.indexOf('union all') + 9, s.sql.lastIndexOf(') group by grouping')); return q(`select toDate(hour) as day, ${mergedCounts()} from (${src}) group by day`, s.params); }],
      ['  without grouping sets (days only; totals summed by the caller)', (i) => { const s = metricsSql(i); return q(s.sql.replace('grouping(day) as is_total', '0 as is_total').replace('group by grouping sets ((day), ())', 'group by day'), s.params); }],
      ['  each branch merged to days first, then summed', (i) => {
        const s = metricsSql(i);
        const [a, b] = s.sql.slice(s.sql.indexOf('from (') + 6, s.sql.lastIndexOf(') group by grouping')).split('union all');
        return q(`select day, sumForEach(c) as n_counts from (select toDate(hour) as day, sumForEachMerge(counts) as c from (${a}) group by day union all select toDate(hour) as day, sumForEachMerge(counts) as c from (${b}) group by day) group by day`, s.params);
      }],
      ['GetCampaignMetrics 30 d through gRPC (007)', (i) => call(client, 'getCampaignMetrics', { tenantId: w.tenantId, campaignId: camp(i), timeRange: { start, end } })],
    ];
    // Same answers first: 006 shape vs 007 totals differ only by the sub-minute edge rounding.
    const times = variants.map(() => [] as number[]);
    for (let r = -5; r < reps; r++) {
      for (const [k, [, fn]] of variants.entries()) {
        const s = performance.now();
        await fn(r + 5);
        if (r >= 0) times[k].push(performance.now() - s);
      }
    }
    const f = (v: number) => v.toFixed(2);
    process.stdout.write(
      table(
        ['variant', 'p50 ms', 'p90 ms'],
        variants.map(([name], k) => [name, f(percentile(times[k], 50)), f(percentile(times[k], 90))]),
      ) + '\n',
    );
    client.close();
    await server.shutdown(1000);
  } finally {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

main()
  .then(() => process.exit(0))
  .catch((err) => {
    process.stderr.write(`probe failed: ${(err as Error).stack ?? err}\n`);
    process.exit(1);
  });
