/**
 * The seed's claim, measured: "OLTP queries 60-80% faster" once the heavy content leaves the
 * table. The same generated messages go into the legacy-shaped `emails` table (every ref column
 * plus 5-50 KB HTML, its text version and 1-3 KB of headers) and into the metadata service's
 * `inbox_message_refs`, in one fresh database, and the service's hot queries are timed on both,
 * cold and warm. See README.md for what cold and warm mean and the results on this machine.
 *
 *   pnpm --filter @penguinmails/bench run bench:oltp [--rows 1000000] [--quick] [--warm 200]
 *        [--cold 3] [--toast-compression pglz|lz4] [--load-streams 2] [--keep]
 */
import { Client } from 'pg';
import { ColdCache } from './lib/cold';
import { generateDataset, type Dataset } from './lib/dataset';
import { loadMessages, loadParents } from './lib/load';
import { assertLocal, createBenchDatabase, installInterruptCleanup, type BenchDatabase } from './lib/pg';
import { hotQueries, type HotQuery } from './lib/queries';
import { bytes, intArg, loadAverage, median, ms, parseArgs, percentile, ratio, table, type Args } from './lib/report';
import { applyMetadataMigrations, createLegacyEmails, indexDefs } from './lib/schema';

const TABLES = ['emails', 'inbox_message_refs'] as const;
type Table = (typeof TABLES)[number];

export interface OltpOptions {
  rows: number;
  warm: number;
  cold: number;
  /** Upper bound on the warm loop of one query (both tables), seconds. */
  warmSeconds: number;
  toastCompression?: 'pglz' | 'lz4';
  keep: boolean;
  seed: number;
  /** Parallel COPY connections per table (threads are split between them, whole). */
  loadStreams: number;
}

export function oltpOptions(args: Args): OltpOptions {
  const quick = args.flags.has('quick');
  const tc = args.values.get('toast-compression');
  if (tc !== undefined && tc !== 'pglz' && tc !== 'lz4') throw new Error('--toast-compression must be pglz or lz4');
  return {
    rows: intArg(args, 'rows', quick ? 20_000 : 200_000, 1_000, 5_000_000),
    warm: intArg(args, 'warm', quick ? 30 : 200, 5, 10_000),
    cold: intArg(args, 'cold', quick ? 1 : 3, 1, 20),
    warmSeconds: quick ? 5 : 30,
    toastCompression: tc as 'pglz' | 'lz4' | undefined,
    keep: args.flags.has('keep'),
    seed: intArg(args, 'seed', 20_260_101, 0, 2 ** 31),
    loadStreams: intArg(args, 'load-streams', 2, 1, 8),
  };
}

const log = (s: string) => process.stdout.write(s + '\n');

interface ExplainSummary {
  ms: number;
  hit: number;
  read: number;
  ioMs: number;
  plan: string;
}

interface QueryResult {
  query: HotQuery;
  cold: Record<Table, number[]>;
  warm: Record<Table, number[]>;
  explainCold: Record<Table, ExplainSummary>;
  explainWarm: Record<Table, ExplainSummary>;
}

export async function runOltp(opts: OltpOptions): Promise<string> {
  installInterruptCleanup();
  log(`\n=== OLTP: legacy emails vs inbox_message_refs (${opts.rows.toLocaleString('en')} messages) ===`);
  log(`load average at start: ${loadAverage()} (2 cores; other work on the machine shows up as noise)`);
  let t0 = performance.now();
  const ds = generateDataset({ rows: opts.rows, seed: opts.seed });
  log(`generated ${ds.rows} messages, ${ds.tenants.length} tenants, ${ds.mailboxes.length} mailboxes, ${ds.campaigns.length} campaigns, ${ds.steps.length} steps, ${ds.leads.length} leads in ${((performance.now() - t0) / 1000).toFixed(1)} s`);

  const db = await createBenchDatabase('pm_bench_oltp');
  assertLocal(db.url, 'the bench database');
  const admin = new Client({ connectionString: db.url, application_name: 'bench-oltp-admin' });
  let cold: ColdCache | undefined;
  try {
    const applied = await applyMetadataMigrations(db.url);
    log(`database ${db.name}: metadata migrations applied (${applied.join(', ')})`);
    await admin.connect();
    await createLegacyEmails(admin);
    if (opts.toastCompression) {
      await admin.query(`alter table emails alter column content_html set compression ${opts.toastCompression}, alter column content_text set compression ${opts.toastCompression}, alter column headers set compression ${opts.toastCompression}`);
    }
    const [ei, ri] = [await indexDefs(admin, 'emails'), await indexDefs(admin, 'inbox_message_refs')];
    log(`indexes: ${ri.length} on inbox_message_refs, ${ei.length} on emails (identical definitions: ${JSON.stringify(ei) === JSON.stringify(ri)})`);
    const compression = opts.toastCompression ?? (await admin.query<{ default_toast_compression: string }>('show default_toast_compression')).rows[0].default_toast_compression;

    await loadParents(admin, ds);
    const load: Record<Table, { ms: number; bytes: number; vacuumMs: number }> = {} as never;
    for (const t of ['inbox_message_refs', 'emails'] as const) {
      t0 = performance.now();
      let last = 0;
      const stats = await loadMessages(db.url, ds, t, {
        bodies: t === 'emails',
        streams: opts.loadStreams,
        onProgress: (done) => {
          if (performance.now() - last > 15_000) {
            last = performance.now();
            log(`  ${t}: ${done.toLocaleString('en')} rows, ${((performance.now() - t0) / 1000).toFixed(0)} s`);
          }
        },
      });
      const v0 = performance.now();
      // Both tables get the same treatment: statistics and a visibility map (index-only scans).
      await admin.query(`vacuum (analyze) ${t}`);
      load[t] = { ms: stats.ms, bytes: stats.bytes, vacuumMs: performance.now() - v0 };
      log(`loaded ${t}: ${(stats.ms / 1000).toFixed(1)} s (${Math.round(ds.rows / (stats.ms / 1000)).toLocaleString('en')} rows/s, ${bytes(stats.bytes)} sent through COPY), vacuum analyze ${(load[t].vacuumMs / 1000).toFixed(1)} s`);
    }
    await admin.query('checkpoint');

    const sizes = await sizeReport(admin);
    const queries = hotQueries(ds);
    cold = new ColdCache(admin);
    await cold.setup(log);

    const results: QueryResult[] = [];
    const evictions: { buffersLeft: number | null; osCachedBytes: number | null; ms: number }[] = [];
    for (const q of queries) {
      const r: QueryResult = { query: q, cold: { emails: [], inbox_message_refs: [] }, warm: { emails: [], inbox_message_refs: [] }, explainCold: {} as never, explainWarm: {} as never };
      // Cold: alternate the tables so drift on the machine hits both alike.
      for (let k = 0; k < opts.cold; k++) {
        for (const t of TABLES) {
          evictions.push(await cold.evict([...TABLES]));
          r.cold[t].push(await coldRun(db, q.sql(t), q.values[0]));
        }
      }
      for (const t of TABLES) {
        evictions.push(await cold.evict([...TABLES]));
        r.explainCold[t] = await explain(db, q.sql(t), q.values[0], true);
      }
      // Warm: one connection per table, every parameter set once to warm up, then rotate.
      const conns = {} as Record<Table, Client>;
      for (const t of TABLES) {
        conns[t] = new Client({ connectionString: db.url, application_name: `bench-oltp-${t}` });
        await conns[t].connect();
      }
      try {
        for (const values of q.values) for (const t of TABLES) await conns[t].query(q.sql(t), values);
        const deadline = performance.now() + opts.warmSeconds * 1000;
        for (let k = 0; k < opts.warm && performance.now() < deadline; k++) {
          const values = q.values[k % q.values.length];
          for (const t of k % 2 === 0 ? TABLES : ([...TABLES].reverse() as Table[])) {
            const s = performance.now();
            await conns[t].query(q.sql(t), values);
            r.warm[t].push(performance.now() - s);
          }
        }
        for (const t of TABLES) r.explainWarm[t] = await explainOn(conns[t], q.sql(t), q.values[0]);
      } finally {
        for (const t of TABLES) await conns[t].end();
      }
      results.push(r);
      log(`  ${q.title}: cold ${ms(median(r.cold.emails))} / ${ms(median(r.cold.inbox_message_refs))} ms, warm p50 ${ms(percentile(r.warm.emails, 50))} / ${ms(percentile(r.warm.inbox_message_refs, 50))} ms (emails / refs)`);
    }

    const report = render(opts, ds, compression, load, sizes, results, evictions, cold.notes);
    log('\n' + report);
    return report;
  } finally {
    await cold?.teardown().catch(() => undefined);
    await admin.end().catch(() => undefined);
    await finish(db, opts.keep);
  }
}

async function finish(db: BenchDatabase, keep: boolean): Promise<void> {
  if (keep) {
    log(`--keep: database ${db.name} left in place (drop database ${db.name};)`);
    return;
  }
  await db.drop();
  log(`database ${db.name} dropped`);
}

/** One cold run: a new backend, catalogs primed by a plain EXPLAIN, then the query timed. */
async function coldRun(db: BenchDatabase, sql: string, values: unknown[]): Promise<number> {
  const c = new Client({ connectionString: db.url, application_name: 'bench-oltp-cold' });
  await c.connect();
  try {
    await c.query('discard all');
    await c.query(`explain ${sql}`, values);
    const s = performance.now();
    await c.query(sql, values);
    return performance.now() - s;
  } finally {
    await c.end();
  }
}

async function explain(db: BenchDatabase, sql: string, values: unknown[], primed: boolean): Promise<ExplainSummary> {
  const c = new Client({ connectionString: db.url, application_name: 'bench-oltp-explain' });
  await c.connect();
  try {
    await c.query('discard all');
    if (primed) await c.query(`explain ${sql}`, values);
    return await explainOn(c, sql, values);
  } finally {
    await c.end();
  }
}

async function explainOn(c: Client, sql: string, values: unknown[]): Promise<ExplainSummary> {
  await c.query('set track_io_timing = on');
  const r = await c.query(`explain (analyze, buffers, format json) ${sql}`, values);
  const doc = (r.rows[0] as Record<string, unknown>)['QUERY PLAN'] as [{ Plan: PlanNode; 'Execution Time': number }];
  const plan = doc[0].Plan;
  const nodes: string[] = [];
  const walk = (n: PlanNode) => {
    if (n['Index Name']) nodes.push(`${n['Node Type'].replace(' Scan', '')} ${shortIndex(n['Index Name'])}`);
    else if (/Seq Scan|Bitmap Heap/.test(n['Node Type'])) nodes.push(n['Node Type']);
    for (const child of n.Plans ?? []) walk(child);
  };
  walk(plan);
  const io = (plan['I/O Read Time'] ?? 0) + (plan['Shared I/O Read Time'] ?? 0);
  return { ms: doc[0]['Execution Time'], hit: plan['Shared Hit Blocks'] ?? 0, read: plan['Shared Read Blocks'] ?? 0, ioMs: io, plan: [...new Set(nodes)].join(', ') };
}

interface PlanNode {
  'Node Type': string;
  'Index Name'?: string;
  'Shared Hit Blocks'?: number;
  'Shared Read Blocks'?: number;
  'I/O Read Time'?: number;
  'Shared I/O Read Time'?: number;
  Plans?: PlanNode[];
}

function shortIndex(name: string): string {
  return name.replace(/^(emails|inbox_message_refs)_/, '').replace(/_idx$/, '');
}

interface Sizes {
  rows: Record<Table, { total: number; heap: number; toast: number; indexes: number; rowsPerPage: number }>;
}

async function sizeReport(db: Client): Promise<Sizes> {
  const r = await db.query<{ relname: Table; total: string; heap: string; toast: string; indexes: string; rpp: string }>(`
    select c.relname,
           pg_total_relation_size(c.oid)::text as total,
           pg_relation_size(c.oid)::text as heap,
           coalesce(pg_total_relation_size(nullif(c.reltoastrelid, 0)), 0)::text as toast,
           pg_indexes_size(c.oid)::text as indexes,
           (c.reltuples / greatest(c.relpages, 1))::numeric(10, 1)::text as rpp
      from pg_class c where c.relname in ('emails', 'inbox_message_refs')`);
  const rows = {} as Sizes['rows'];
  for (const x of r.rows) rows[x.relname] = { total: Number(x.total), heap: Number(x.heap), toast: Number(x.toast), indexes: Number(x.indexes), rowsPerPage: Number(x.rpp) };
  return { rows };
}

function render(
  opts: OltpOptions,
  ds: Dataset,
  compression: string,
  load: Record<Table, { ms: number; bytes: number; vacuumMs: number }>,
  sizes: Sizes,
  results: QueryResult[],
  evictions: { buffersLeft: number | null; osCachedBytes: number | null; ms: number }[],
  notes: string[],
): string {
  const out: string[] = [];
  const now = new Date().toISOString().replace('T', ' ').slice(0, 16) + ' UTC';
  out.push(`OLTP benchmark, ${now}: ${ds.rows.toLocaleString('en')} messages (seed ${opts.seed}), TOAST compression ${compression}, ${opts.loadStreams} COPY stream(s) per table, cold runs ${opts.cold} (median), warm runs up to ${opts.warm} per table (p50/p95)`);
  out.push('');
  out.push('Query times, client-side wall clock (pg, extended protocol, same SQL as the metadata service):');
  out.push(
    table(
      ['query', 'run', 'emails ms', 'refs ms', 'ratio emails/refs', '% faster'],
      results.flatMap((r) => {
        const c = ratio(median(r.cold.emails), median(r.cold.inbox_message_refs));
        const w50 = ratio(percentile(r.warm.emails, 50), percentile(r.warm.inbox_message_refs, 50));
        const w95 = ratio(percentile(r.warm.emails, 95), percentile(r.warm.inbox_message_refs, 95));
        return [
          [r.query.title, 'cold', ms(median(r.cold.emails)), ms(median(r.cold.inbox_message_refs)), c.ratio, c.faster],
          ['', `warm p50 (n=${r.warm.emails.length})`, ms(percentile(r.warm.emails, 50)), ms(percentile(r.warm.inbox_message_refs, 50)), w50.ratio, w50.faster],
          ['', 'warm p95', ms(percentile(r.warm.emails, 95)), ms(percentile(r.warm.inbox_message_refs, 95)), w95.ratio, w95.faster],
        ];
      }),
    ),
  );
  out.push('');
  out.push('Parameters:');
  for (const r of results) out.push(`- ${r.query.title}: ${r.query.params}${r.query.note ? ` (${r.query.note})` : ''}`);
  out.push('');
  out.push('EXPLAIN (ANALYZE, BUFFERS), parameter set [0]: shared buffers hit / read (8 kB pages), I/O read time, execution time:');
  out.push(
    table(
      ['query', 'table', 'cold hit/read', 'cold I/O ms', 'cold exec ms', 'warm hit/read', 'warm exec ms', 'plan'],
      results.flatMap((r) =>
        TABLES.map((t) => [
          t === 'emails' ? r.query.title : '',
          t === 'emails' ? 'emails' : 'refs',
          `${r.explainCold[t].hit}/${r.explainCold[t].read}`,
          ms(r.explainCold[t].ioMs),
          ms(r.explainCold[t].ms),
          `${r.explainWarm[t].hit}/${r.explainWarm[t].read}`,
          ms(r.explainWarm[t].ms),
          r.explainWarm[t].plan,
        ]),
      ),
    ),
  );
  out.push('');
  out.push('Sizes after load + VACUUM (ANALYZE):');
  const e = sizes.rows.emails;
  const f = sizes.rows.inbox_message_refs;
  out.push(
    table(
      ['table', 'total (pg_total_relation_size)', 'heap (pg_relation_size)', 'TOAST (+ its index)', 'indexes', 'rows per heap page'],
      [
        ['emails', bytes(e.total), bytes(e.heap), bytes(e.toast), bytes(e.indexes), e.rowsPerPage],
        ['inbox_message_refs', bytes(f.total), bytes(f.heap), bytes(f.toast), bytes(f.indexes), f.rowsPerPage],
        ['ratio emails/refs', `${(e.total / f.total).toFixed(1)}x`, `${(e.heap / f.heap).toFixed(2)}x`, '-', `${(e.indexes / f.indexes).toFixed(2)}x`, '-'],
      ],
    ),
  );
  out.push('');
  out.push(
    table(
      ['load (COPY, through all indexes and foreign keys)', 'seconds', 'rows/s', 'COPY bytes', 'vacuum analyze s'],
      (['emails', 'inbox_message_refs'] as const).map((t) => [t, (load[t].ms / 1000).toFixed(1), Math.round(ds.rows / (load[t].ms / 1000)), bytes(load[t].bytes), (load[t].vacuumMs / 1000).toFixed(1)]),
    ),
  );
  const left = evictions.map((x) => x.buffersLeft).filter((x): x is number => x !== null);
  const cached = evictions.map((x) => x.osCachedBytes).filter((x): x is number => x !== null);
  out.push('');
  out.push(
    `Cold-cache evictions: ${evictions.length}, median ${ms(median(evictions.map((x) => x.ms)))} ms each; shared buffers of the two tables left after eviction: ` +
      (left.length ? `max ${Math.max(...left)}` : 'not measured') +
      `; OS page cache of the database's files after fadvise: ` +
      (cached.length ? `max ${bytes(Math.max(...cached))}` : 'not dropped'),
  );
  for (const n of notes) out.push(`Note: ${n}`);
  return out.join('\n');
}

if (require.main === module) {
  runOltp(oltpOptions(parseArgs(process.argv.slice(2))))
    .then(() => process.exit(0))
    .catch((err) => {
      process.stderr.write(`bench:oltp failed: ${(err as Error).stack ?? err}\n`);
      process.exit(1);
    });
}
