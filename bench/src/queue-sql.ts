/**
 * bench:queue-sql — where PostgreSQL's time per processed job goes in the lean claim function
 * (`pm_queue_claim_lean`, services/queue), with no gRPC, no service and one connection: the
 * backend's own CPU (/proc) per job while it claims a backlog 1,000 at a time and completes each
 * batch in the next call, as a lean worker does. The baseline is the function as migrated; each
 * variant is a copy of it with one part changed, created in the bench's database only, and the
 * variants are alternated within each round:
 *
 *   as migrated             the function the service calls (the baseline)
 *   claims only             the same calls with nothing to complete: the claim's share
 *   no outbox event         the completion without its JobsSucceeded outbox row (built in SQL)
 *   no row locks            the claim without `for update skip locked` (safe only for one
 *                           claimer: the question is what the lock costs, not a proposal)
 *   finished rows moved     completion deletes the job and inserts it into a table of finished
 *                           jobs, graphile-worker's delete plus a copy kept for GetJob and retention
 *
 * Printed: jobs/s on the one connection, the backend's µs of CPU per job, and each variant's CPU
 * against the same round's baseline. The backlog is --jobs no-op jobs inserted by one statement
 * and checkpointed before each row. Nothing here is a test: no figure is asserted.
 *
 *   npx tsx src/queue-sql.ts [--jobs 30000] [--batch 1000] [--rounds 3]
 */
import path from 'node:path';
import { createLogger, migratePostgres } from '@penguinmails/service-kit';
import { Client } from 'pg';
import { createBenchDatabase, installInterruptCleanup } from './lib/pg';
import { procStat } from './lib/cpu-split';
import { intArg, loadAverage, median, parseArgs, table, utcMinute } from './lib/report';

const log = (s: string) => process.stdout.write(s + '\n');
const TENANT = '00000000-0000-4000-8000-000000000001';
/** The queue service's migrations (as bench:queue reads them). */
const MIGRATIONS_DIR = path.join(path.dirname(require.resolve('@penguinmails/queue/package.json')), 'prisma', 'migrations');
const SIGNATURE = 'pm_queue_claim_lean(uuid,varchar,varchar,int,double precision,uuid[],int[],jsonb[],varchar,text,text,timestamptz,bigint)';

interface Variant {
  name: string;
  fn: string;
  /** Completes the previous batch in each call (false: claims only). */
  complete: boolean;
  /** The migrated function's definition, edited (undefined: as migrated). */
  edit?: (def: string) => string;
}

/** One edit of the function's text that must match, or the variant would measure the baseline. */
function replaceOnce(def: string, pattern: string | RegExp, by: string): string {
  const out = def.replace(pattern, by);
  if (out === def) throw new Error(`queue-sql: ${String(pattern).slice(0, 60)} is not in pm_queue_claim_lean any more; update the variant`);
  return out;
}

const VARIANTS: Variant[] = [
  { name: 'as migrated', fn: 'pm_queue_claim_lean', complete: true },
  { name: 'claims only', fn: 'pm_queue_claim_lean', complete: false },
  {
    name: 'no outbox event',
    fn: 'bench_claim_no_event',
    complete: true,
    edit: (d) => replaceOnce(d, /\), event as \([\s\S]*?where e\.jobs is not null\s*\)/, ')'),
  },
  { name: 'no row locks', fn: 'bench_claim_no_locks', complete: true, edit: (d) => replaceOnce(d, 'for update skip locked', '') },
  {
    name: 'finished rows moved',
    fn: 'bench_claim_move',
    complete: true,
    edit: (d) =>
      replaceOnce(
        d,
        /with done as \(\s*update jobs[\s\S]*?returning jobs\.id, jobs\.queue, jobs\.task, jobs\.attempts\s*\)/,
        `with gone as (
           delete from jobs using unnest(p_ids, p_attempts, p_outputs) as i(id, attempt, output)
            where jobs.id = i.id and jobs.tenant_id = p_tenant
              and case jobs.status when 'running' then jobs.locked_by = p_worker and jobs.attempts = i.attempt end
           returning jobs.*, i.output as out
         ), done as (
           insert into bench_finished_jobs (id, tenant_id, queue, task, payload, priority, run_at, max_attempts, attempts, status, finished, ended_by, output, created, updated)
           select g.id, g.tenant_id, g.queue, g.task, g.payload, g.priority, g.run_at, g.max_attempts, g.attempts, 'succeeded', now(), p_worker, g.out, g.created, now()
             from gone g
           returning bench_finished_jobs.id, bench_finished_jobs.queue, bench_finished_jobs.task, bench_finished_jobs.attempts
         )`,
      ),
  },
];

/** The backend's CPU in ms (user + system). */
function backendMs(pid: number): number {
  const s = procStat(pid);
  if (!s) throw new Error(`queue-sql: no /proc/${pid}: the bench reads the backend's CPU, so PostgreSQL must run on this machine`);
  return s.ownMs;
}

async function runVariant(c: Client, pid: number, v: Variant, jobs: number, batch: number): Promise<{ jobs: number; seconds: number; cpuMs: number }> {
  await c.query('truncate jobs cascade');
  await c.query('truncate outbox_events, bench_finished_jobs');
  await c.query(
    `insert into jobs (id, tenant_id, queue, task, payload, priority, run_at, max_attempts)
     select gen_random_uuid(), $1, 'bench', 'noop', jsonb_build_object('i', g), 0, now(), 3 from generate_series(1, $2) g`,
    [TENANT, jobs],
  );
  await c.query('checkpoint');
  const cpu0 = backendMs(pid);
  const t0 = performance.now();
  let previous: { id: string; attempts: number }[] = [];
  let done = 0;
  for (;;) {
    const { rows } = await c.query<{ kind: string; id: string; attempts: number }>(
      `select kind, id, attempts from ${v.fn}($1, 'bench', 'bench-worker', $2, 300, string_to_array($3::text, ',')::uuid[],
              string_to_array($4::text, ',')::int[], '{}'::jsonb[], 'pm.queue.bench.jobs_succeeded', null, null, null, 100000000)`,
      [TENANT, batch, previous.map((r) => r.id).join(','), previous.map((r) => r.attempts).join(',')],
    );
    if (rows.some((r) => r.kind === 'm' || r.kind === 's')) throw new Error(`queue-sql: ${v.name}: a completion missed or the claim went the slow way`);
    const claimed = rows.filter((r) => r.kind === 'j');
    done += v.complete ? previous.length : claimed.length;
    previous = v.complete ? claimed : [];
    if (claimed.length === 0) break;
  }
  const seconds = (performance.now() - t0) / 1000;
  const cpuMs = backendMs(pid) - cpu0;
  if (done !== jobs) throw new Error(`queue-sql: ${v.name} processed ${done} of ${jobs} jobs`);
  return { jobs: done, seconds, cpuMs };
}

async function main(): Promise<void> {
  installInterruptCleanup();
  const args = parseArgs(process.argv.slice(2));
  const jobs = intArg(args, 'jobs', 30_000, 1_000, 10_000_000);
  const batch = intArg(args, 'batch', 1_000, 1, 1_000);
  const rounds = intArg(args, 'rounds', 3, 1, 50);
  log(`queue-sql: ${jobs} jobs, claims of ${batch}, ${rounds} round(s), one connection; load ${loadAverage()}`);
  const db = await createBenchDatabase('pm_bench_queue_sql');
  const c = new Client({ connectionString: db.url });
  try {
    await migratePostgres({ databaseUrl: db.url, migrationsDir: MIGRATIONS_DIR, logger: createLogger({ service: 'bench-queue-sql', level: 'warn' }) });
    await c.connect();
    await c.query('create table bench_finished_jobs (like jobs including defaults)');
    await c.query('alter table bench_finished_jobs add primary key (id)');
    await c.query('create index on bench_finished_jobs (tenant_id, status, created, id)');
    const def = (await c.query<{ d: string }>(`select pg_get_functiondef($1::regprocedure) as d`, [SIGNATURE])).rows[0].d;
    for (const v of VARIANTS) if (v.edit) await c.query(v.edit(replaceOnce(def, /FUNCTION public\.pm_queue_claim_lean\(/, `FUNCTION public.${v.fn}(`)));
    const pid = (await c.query<{ pid: number }>('select pg_backend_pid() as pid')).rows[0].pid;
    // A warm-up of each variant (plans, caches), not counted.
    for (const v of VARIANTS) await runVariant(c, pid, v, Math.min(jobs, 5_000), batch);
    const results = new Map<string, { rate: number; us: number; ratio: number }[]>();
    for (let r = 0; r < rounds; r++) {
      // Alternated: each round runs every variant, in an order rotated by the round.
      const order = VARIANTS.map((_, i) => VARIANTS[(i + r) % VARIANTS.length]);
      const round = new Map<string, { rate: number; us: number }>();
      for (const v of order) {
        const m = await runVariant(c, pid, v, jobs, batch);
        round.set(v.name, { rate: m.jobs / m.seconds, us: (m.cpuMs * 1000) / m.jobs });
      }
      const base = round.get('as migrated')!.us;
      for (const [name, m] of round) results.set(name, [...(results.get(name) ?? []), { ...m, ratio: m.us / base }]);
      log(`round ${r + 1}: ${[...round].map(([name, m]) => `${name} ${m.us.toFixed(1)} µs`).join(', ')}`);
    }
    log('');
    log(`PostgreSQL per processed job, ${utcMinute()} UTC: ${jobs} no-op jobs, claims of ${batch} completing the previous batch, one connection; median of ${rounds} round(s); load ${loadAverage()}`);
    log('');
    log(
      table(
        ['variant', 'jobs/s', 'backend CPU µs/job', 'vs as migrated (same round)', 'each round µs/job'],
        VARIANTS.map((v) => {
          const rs = results.get(v.name)!;
          return [
            v.name,
            median(rs.map((x) => x.rate)).toFixed(0),
            median(rs.map((x) => x.us)).toFixed(1),
            v.name === 'as migrated' ? '-' : `${median(rs.map((x) => x.ratio)).toFixed(2)}x`,
            rs.map((x) => x.us.toFixed(1)).join(' / '),
          ];
        }),
      ),
    );
  } finally {
    await c.end().catch(() => undefined);
    await db.drop();
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
