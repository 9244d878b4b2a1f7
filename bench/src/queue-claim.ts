/**
 * bench:queue — how the queue's claim scales with concurrent workers, database only.
 *
 * A fresh database with services/queue's migrations, N runnable jobs of one tenant's queue,
 * then W workers (1, 4, 8), each on its own connection, looping
 *   claim transaction:    reclaimExpiredLeases → claimJobs(batch) → commit   (what ClaimJobs runs)
 *   per claimed job:      completeJob → JobSucceeded outbox row → commit     (what CompleteJob runs)
 * with the queue's own SQL functions (services/queue/src/db, built to dist) called through pg:
 * no gRPC, no Node server in the way. Every run starts from the same reloaded, vacuumed backlog
 * and stops at --jobs completions or --seconds, whichever comes first.
 *
 * While a run is going, a separate connection samples pg_stat_activity of the workers every
 * 20 ms (what they wait on), and the run reports how many index entries of jobs_runnable_idx
 * were read per claim (pg_stat_user_indexes): the two numbers that say where the time goes.
 */
import { randomUUID } from 'node:crypto';
import path from 'node:path';
import { Client, type PoolClient } from 'pg';
import { EventNames, migratePostgres } from '@penguinmails/service-kit';
import { lockRunnableGroups } from '@penguinmails/queue/dist/db/claim-grouped-jobs';
import { claimJobs } from '@penguinmails/queue/dist/db/claim-jobs';
import { completeJob } from '@penguinmails/queue/dist/db/complete-job';
import { reclaimExpiredLeases } from '@penguinmails/queue/dist/db/reclaim-expired-leases';
import { emitJobEvents } from '@penguinmails/queue/dist/domain/events';
import { assertLocal, createBenchDatabase, installInterruptCleanup } from './lib/pg';
import { intArg, loadAverage, ms, parseArgs, percentile, table, type Args } from './lib/report';

const MIGRATIONS_DIR = path.join(path.dirname(require.resolve('@penguinmails/queue/package.json')), 'prisma', 'migrations');
const WORKER_APP = 'pm-bench-queue-worker';
const TENANT = '3f1c2b0e-8d4a-4c1e-9b7a-2a6f0c5d9e11';
const QUEUE = 'email';

export interface QueueOptions {
  jobs: number;
  seconds: number;
  workers: number[];
  batches: number[];
  /**
   * Which rows to run, by variant key: `service` alone by default; --diagnose adds every
   * diagnostic row (unnamed statements, no outbox row, no lease sweep, a LISTEN connection);
   * --variants names the rows to run itself.
   */
  variants: string[];
  explain: boolean;
}

export function queueOptions(args: Args): QueueOptions {
  const quick = args.flags.has('quick');
  const list = (name: string, def: number[]) =>
    (args.values.get(name)?.split(',').map((s) => Number(s.trim())) ?? def).map((n) => {
      if (!Number.isInteger(n) || n < 1 || n > 64) throw new Error(`--${name} takes integers in [1, 64], got ${args.values.get(name)}`);
      return n;
    });
  return {
    jobs: intArg(args, 'jobs', quick ? 5_000 : 20_000, 100, 2_000_000),
    seconds: intArg(args, 'seconds', quick ? 5 : 15, 1, 600),
    workers: list('workers', [1, 4, 8]),
    batches: list('batches', [1, 10]),
    variants: (args.values.get('variants') ?? (args.flags.has('diagnose') ? 'service,unnamed,no-outbox,no-sweep,listen,separate-groups-probe' : 'service'))
      .split(',')
      .map((v) => v.trim()),
    explain: !args.flags.has('no-explain'),
  };
}

interface Variant {
  key: string;
  name: string;
  reclaim: boolean;
  outbox: boolean;
  /** A connection LISTENs on pm_outbox during the run, as the service's OutboxRelay does. */
  listen?: boolean;
  /** Strip the statement names the service gives its hot SQL: every call parsed and planned again. */
  unnamed?: boolean;
  /** Run the grouped claim's lock statement (lockRunnableGroups) as its own round trip before every claim. */
  groupsProbe?: boolean;
  /**
   * Run in a second database whose jobs table has the indexes of before 20261227000000_jobs_narrow_indexes
   * (WIDE_INDEXES): the before/after of that migration in one interleaved run.
   */
  wideIndexes?: boolean;
}

/**
 * The jobs indexes before 20261227000000_jobs_narrow_indexes: the idempotency key's unique index
 * over every job (NULL keys included) and ListJobs' (tenant, status, created, id) over every
 * status, each taking an entry on every insert, claim and completion (in place of today's
 * jobs_status_created_idx, 20261230000000; jobs_not_running_created_idx of 20261228 is gone).
 */
const WIDE_INDEXES = `
  drop index jobs_idempotency_key_idx;
  create unique index "jobs_tenant_id_queue_idempotency_key_key" on jobs (tenant_id, queue, idempotency_key);
  drop index jobs_status_created_idx;
  create index "jobs_tenant_id_status_created_id_idx" on jobs (tenant_id, status, created, id);`;
const SERVICE: Variant = { key: 'service', name: 'service (sweep + claim; complete + outbox)', reclaim: true, outbox: true };
const DIAGNOSTIC: Variant[] = [
  { key: 'unnamed', name: 'service, unnamed statements (parsed per call)', reclaim: true, outbox: true, unnamed: true },
  { key: 'no-outbox', name: 'no outbox row on complete (no NOTIFY)', reclaim: true, outbox: false },
  { key: 'no-sweep', name: 'no lease sweep before the claim', reclaim: false, outbox: true },
  { key: 'listen', name: 'service + a LISTEN pm_outbox connection', reclaim: true, outbox: true, listen: true },
  { key: 'separate-groups-probe', name: 'service + the groups lock statement as its own round trip', reclaim: true, outbox: true, groupsProbe: true },
  { key: 'wide-indexes', name: 'service, jobs indexes of before 20261227 (full idempotency + status)', reclaim: true, outbox: true, wideIndexes: true },
];

interface RunResult {
  variant: string;
  workers: number;
  batch: number;
  completed: number;
  claims: number;
  emptyClaims: number;
  seconds: number;
  claimMs: number[];
  completeMs: number[];
  waits: Map<string, number>;
  samples: number;
  idxTupPerClaim: number;
  deadTupAfter: number;
  errors: string[];
}

const names = new EventNames('bench', 'BENCH');

async function connect(url: string, app: string): Promise<Client> {
  const c = new Client({ connectionString: url, application_name: app });
  await c.connect();
  return c;
}

/** The same backlog for every run: N queued jobs, priorities -1..1, run_at spread over the last hour. */
async function reload(admin: Client, jobs: number): Promise<void> {
  await admin.query('truncate jobs, job_logs, outbox_events');
  await admin.query(
    `insert into jobs (tenant_id, queue, task, payload, priority, run_at)
     select $1, $2, 'campaign.send_step', jsonb_build_object('n', g), (g % 3) - 1, now() - make_interval(secs => (g % 3600))
       from generate_series(1, $3) g`,
    [TENANT, QUEUE, jobs],
  );
  await admin.query('vacuum (analyze) jobs, job_logs, outbox_events');
}

async function indexStats(admin: Client): Promise<{ tupRead: number; deadTup: number }> {
  await admin.query('select pg_stat_clear_snapshot()');
  const { rows } = await admin.query<{ t: string; d: string }>(
    `select (select idx_tup_read from pg_stat_user_indexes where indexrelname = 'jobs_runnable_idx') as t,
            (select n_dead_tup from pg_stat_user_tables where relname = 'jobs') as d`,
  );
  return { tupRead: Number(rows[0].t), deadTup: Number(rows[0].d) };
}

async function run(url: string, admin: Client, variant: Variant, workers: number, batch: number, opts: QueueOptions): Promise<RunResult> {
  await reload(admin, opts.jobs);
  const clients = await Promise.all(Array.from({ length: workers }, () => connect(url, WORKER_APP)));
  // Let the statistics of the reload settle before the "before" reading.
  await new Promise((r) => setTimeout(r, 600));
  const before = await indexStats(admin);
  const res: RunResult = {
    variant: variant.name, workers, batch, completed: 0, claims: 0, emptyClaims: 0, seconds: 0,
    claimMs: [], completeMs: [], waits: new Map(), samples: 0, idxTupPerClaim: 0, deadTupAfter: 0, errors: [],
  };
  const start = performance.now();
  const deadline = start + opts.seconds * 1000;
  let stop = false;
  const sampler = await connect(url, 'pm-bench-queue-sampler');
  const listener = variant.listen ? await connect(url, 'pm-bench-queue-listener') : undefined;
  if (listener) {
    listener.on('notification', () => undefined);
    await listener.query('listen pm_outbox');
  }
  const sampling = (async () => {
    while (!stop && performance.now() < deadline + 1000) {
      const { rows } = await sampler.query<{ w: string; n: string }>(
        `select case when state = 'idle in transaction' then 'Client (idle in transaction)'
                     when state = 'idle' then 'Client (idle)'
                     when wait_event is null then 'CPU (running)'
                     else wait_event_type || ':' || wait_event end as w, count(*) as n
           from pg_stat_activity where application_name = $1 group by 1`,
        [WORKER_APP],
      );
      for (const r of rows) res.waits.set(r.w, (res.waits.get(r.w) ?? 0) + Number(r.n));
      res.samples += rows.reduce((s, r) => s + Number(r.n), 0);
      await new Promise((r) => setTimeout(r, 20));
    }
  })();

  const worker = async (c: Client, i: number) => {
    const db = (variant.unnamed ? unnamed(c) : c) as unknown as PoolClient;
    const workerId = `bench-worker-${i}`;
    while (!stop && res.completed < opts.jobs && performance.now() < deadline) {
      const t0 = performance.now();
      await c.query('begin');
      let claimed;
      try {
        if (variant.reclaim) {
          // The sweep also says whether grouped jobs wait (none here): ClaimJobs runs the grouped steps only then.
          const { reclaimed, groupedRunnable } = await reclaimExpiredLeases(db, { tenantId: TENANT, queue: QUEUE, limit: 100 });
          await emitJobEvents(db, names, reclaimed);
          if (groupedRunnable) throw new Error('the bench backlog has no grouped jobs');
        }
        // The grouped claim's first statement as a round trip of its own (how ClaimJobs ran it
        // before the sweep answered the question): a diagnostic row, --variants separate-groups-probe.
        if (variant.groupsProbe && (await lockRunnableGroups(db, { tenantId: TENANT, queue: QUEUE, limit: batch })).groups.length)
          throw new Error('the bench backlog has no grouped jobs');
        claimed = await claimJobs(db, { tenantId: TENANT, queue: QUEUE, workerId, limit: batch, leaseSeconds: 300, maxReplyBytes: 4_000_000 });
        await c.query('commit');
      } catch (e) {
        await c.query('rollback').catch(() => undefined);
        throw e;
      }
      res.claimMs.push(performance.now() - t0);
      res.claims++;
      if (claimed.length === 0) {
        res.emptyClaims++;
        if (res.emptyClaims > 1000) break;
        continue;
      }
      for (const job of claimed) {
        const t1 = performance.now();
        await c.query('begin');
        try {
          const row = await completeJob(db, { tenantId: TENANT, jobId: job.id, workerId, attempt: job.attempts });
          if (!row) throw new Error(`job ${job.id} claimed by ${workerId} could not be completed (handed out twice?)`);
          if (variant.outbox) await emitJobEvents(db, names, [row]);
          await c.query('commit');
        } catch (e) {
          await c.query('rollback').catch(() => undefined);
          throw e;
        }
        res.completeMs.push(performance.now() - t1);
        res.completed++;
      }
    }
  };
  const outcomes = await Promise.allSettled(clients.map((c, i) => worker(c, i)));
  res.seconds = (performance.now() - start) / 1000;
  stop = true;
  await sampling;
  for (const o of outcomes) if (o.status === 'rejected') res.errors.push(String((o.reason as Error)?.message ?? o.reason));
  await Promise.all(clients.map((c) => c.end()));
  await sampler.end();
  await listener?.end();
  await new Promise((r) => setTimeout(r, 600)); // backends flush their statistics when they exit
  const after = await indexStats(admin);
  res.idxTupPerClaim = res.claims ? (after.tupRead - before.tupRead) / res.claims : NaN;
  res.deadTupAfter = after.deadTup;
  // A job must never be handed out twice: every succeeded job was completed exactly once here.
  const { rows } = await admin.query<{ n: string }>(`select count(*) as n from jobs where status = 'succeeded'`);
  if (Number(rows[0].n) !== res.completed) res.errors.push(`${rows[0].n} succeeded rows for ${res.completed} completions`);
  return res;
}

/** The client with statement names dropped from query configs: what the service did before naming them. */
function unnamed(c: Client): Pick<Client, 'query'> {
  return {
    query: ((cfg: string | { text: string; values?: unknown[] }, values?: unknown[]) =>
      typeof cfg === 'string' ? c.query(cfg, values) : c.query(cfg.text, cfg.values)) as Client['query'],
  };
}

/** EXPLAIN (ANALYZE, BUFFERS) of the service's claim SQL as it stands now, rolled back. */
async function explainClaim(url: string, batch: number): Promise<string> {
  const c = await connect(url, 'pm-bench-queue-explain');
  try {
    let out = '';
    const capture = {
      // The service may pass (text, values) or a named-statement config ({ name, text, values }).
      query: async (textOrConfig: string | { text: string; values: unknown[] }, maybeValues?: unknown[]) => {
        const text = typeof textOrConfig === 'string' ? textOrConfig : textOrConfig.text;
        const values = typeof textOrConfig === 'string' ? maybeValues : textOrConfig.values;
        await c.query('begin');
        const { rows } = await c.query<{ 'QUERY PLAN': string }>(`explain (analyze, buffers, costs off) ${text}`, values);
        await c.query('rollback');
        out = rows.map((r) => r['QUERY PLAN']).join('\n');
        return { rows: [] };
      },
    };
    await claimJobs(capture as unknown as PoolClient, { tenantId: TENANT, queue: QUEUE, workerId: 'explain', limit: batch, leaseSeconds: 300, maxReplyBytes: 4_000_000 });
    return out;
  } finally {
    await c.end();
  }
}

function topWaits(r: RunResult): string {
  return [...r.waits.entries()]
    .sort((a, b) => b[1] - a[1])
    .slice(0, 3)
    .map(([w, n]) => `${w} ${((n / Math.max(1, r.samples)) * 100).toFixed(0)}%`)
    .join(', ');
}

export async function runQueue(opts: QueueOptions, log: (s: string) => void = console.log): Promise<void> {
  installInterruptCleanup();
  log(`\n=== queue: claim → complete, ${opts.jobs} jobs backlog, workers ${opts.workers.join('/')}, batch ${opts.batches.join('/')} ===`);
  log(`load average at start: ${loadAverage()}`);
  const known = [SERVICE, ...DIAGNOSTIC];
  const variants = opts.variants.map((k) => {
    const v = known.find((x) => x.key === k);
    if (!v) throw new Error(`--variants: unknown "${k}"; known: ${known.map((x) => x.key).join(', ')}`);
    return v;
  });
  const db = await createBenchDatabase('pm_bench_queue');
  assertLocal(db.url, 'bench database');
  const admin = await connect(db.url, 'pm-bench-queue-admin');
  const wide = variants.some((v) => v.wideIndexes) ? await createBenchDatabase('pm_bench_queue_wide') : undefined;
  const wideAdmin = wide ? await connect(wide.url, 'pm-bench-queue-admin') : undefined;
  try {
    await migratePostgres({ databaseUrl: db.url, migrationsDir: MIGRATIONS_DIR });
    if (wide && wideAdmin) {
      await migratePostgres({ databaseUrl: wide.url, migrationsDir: MIGRATIONS_DIR });
      await wideAdmin.query(WIDE_INDEXES);
    }
    const results: RunResult[] = [];
    const explains: string[] = [];
    // Variants interleaved per (batch, workers), so drift in the machine's load hits them alike.
    for (const batch of opts.batches) {
      for (const workers of opts.workers) {
        for (const variant of variants) {
          const r = variant.wideIndexes && wide && wideAdmin ? await run(wide.url, wideAdmin, variant, workers, batch, opts) : await run(db.url, admin, variant, workers, batch, opts);
          results.push(r);
          log(`  ${variant.name}, batch ${batch}, ${workers} worker(s): ${(r.completed / r.seconds).toFixed(0)} jobs/s (${r.completed} in ${r.seconds.toFixed(1)} s)${r.errors.length ? ' ERRORS: ' + r.errors.join('; ') : ''}`);
          if (opts.explain && variant === SERVICE && batch === 1 && workers === Math.max(...opts.workers)) {
            explains.push(`claim of 1 at the end of the ${workers}-worker run (${r.completed} jobs claimed since the reload, no vacuum since):\n${await explainClaim(db.url, 1)}`);
            await reload(admin, opts.jobs);
            explains.unshift(`claim of 1 on the freshly loaded, vacuumed backlog:\n${await explainClaim(db.url, 1)}`);
          }
        }
      }
    }
    results.sort((a, b) => variants.findIndex((v) => v.name === a.variant) - variants.findIndex((v) => v.name === b.variant));
    const rows = results.map((r) => {
      const base = results.find((b) => b.variant === r.variant && b.batch === r.batch && b.workers === Math.min(...opts.workers));
      const rate = r.completed / r.seconds;
      const baseRate = base ? base.completed / base.seconds : NaN;
      const isBase = base === r;
      return [
        r.variant,
        r.batch,
        r.workers,
        r.completed,
        rate.toFixed(0),
        isBase ? `1.00x (baseline: ${r.workers} worker)` : `${(rate / baseRate).toFixed(2)}x of ${base?.workers ?? '?'} worker`,
        ms(percentile(r.claimMs, 50)),
        ms(percentile(r.claimMs, 99)),
        ms(percentile(r.completeMs, 50)),
        Number.isFinite(r.idxTupPerClaim) ? r.idxTupPerClaim.toFixed(1) : '-',
        topWaits(r),
        r.errors.length ? r.errors.length : 0,
      ];
    });
    log(`\nclosed loop per worker, up to ${opts.jobs} completions or ${opts.seconds} s per row; one tenant, one queue; every row starts from the same reloaded, vacuumed backlog\n`);
    log(
      table(
        ['variant', 'batch', 'workers', 'jobs', 'jobs/s', 'vs baseline', 'claim p50 ms', 'claim p99 ms', 'complete p50 ms', 'runnable_idx entries/claim', 'workers were (sampled)', 'errors'],
        rows,
      ),
    );
    if (explains.length) log('\nEXPLAIN (ANALYZE, BUFFERS) of the claim SQL:\n\n' + explains.join('\n\n'));
  } finally {
    await admin.end();
    await db.drop();
    await wideAdmin?.end();
    await wide?.drop();
  }
}

if (require.main === module) {
  runQueue(queueOptions(parseArgs(process.argv.slice(2)))).catch((e) => {
    console.error(e);
    process.exit(1);
  });
}
