/**
 * bench:queue-groups — what concurrency groups cost a worker, against the queue service
 * (services/queue/dist/main.js, the testkit's startPlatform: a fresh database, its own JetStream
 * names), each mode alternated in the same invocation:
 *
 *   ungrouped       no group key: the lean claim's one statement (the baseline of every ratio)
 *   job limits      --groups groups, each job enqueued with group_limit --limit
 *   SetGroupLimit   the same groups, the jobs without a limit, one SetGroupLimit setting per group
 *                   (group_limits, read by the grouped claim: src/db/claim-grouped-jobs.ts)
 *
 * Each row: --jobs no-op jobs enqueued (untimed, round-robin over the groups), then --workers
 * workers loop lean ClaimJobs { max_jobs --batch, complete: the previous batch } until every
 * job was completed (DONE outcomes counted), timed. A grouped queue takes the claim's slow path
 * (lock the groups, count their running jobs, lease at most the limit), and a claim returns at
 * most the groups' free slots. Printed: jobs/s, the ratio to the same round's ungrouped row,
 * CPU per job by process (lib/cpu-split.ts). Nothing here is a test: no figure is asserted.
 *
 *   npx tsx src/queue-groups.ts [--jobs 20000] [--groups 200] [--limit 5] [--workers 4] [--batch 100] [--rounds 3]
 */
import { randomUUID } from 'node:crypto';
import os from 'node:os';
import { createPlatform, type PenguinMails } from '@penguinmails/sdk';
import { startPlatform } from '@penguinmails/testkit';
import { cpuBetween, cpuSnapshot } from './lib/cpu-split';
import { installInterruptCleanup, onInterrupt } from './lib/pg';
import { intArg, loadAverage, median, parseArgs, table, utcMinute } from './lib/report';

const MODES = ['ungrouped', 'job limits', 'SetGroupLimit'] as const;
type Mode = (typeof MODES)[number];
const log = (s: string) => process.stdout.write(s + '\n');

interface Row {
  mode: Mode;
  round: number;
  seconds: number;
  claims: number;
  cpu: Map<string, number>;
}

interface Shape {
  jobs: number;
  groups: number;
  limit: number;
  workers: number;
  batch: number;
}

/** Enqueues the row's jobs into a new queue (untimed) and returns its name. */
async function prepare(pm: PenguinMails, tenantId: string, mode: Mode, s: Shape): Promise<string> {
  const queue = `g-${randomUUID().slice(0, 8)}`;
  const group = (i: number) => (mode === 'ungrouped' ? {} : { groupKey: `mailbox:${i % s.groups}`, groupLimit: mode === 'job limits' ? s.limit : 0 });
  if (mode === 'SetGroupLimit')
    for (let g = 0; g < s.groups; g++) await pm.queue.setGroupLimit({ tenantId, queue, groupKey: `mailbox:${g}`, limit: s.limit });
  const res = await pm.enqueueMany({
    tenantId,
    jobs: Array.from({ length: s.jobs }, (_, i) => ({ queue, task: 'noop', payloadJson: Buffer.from(JSON.stringify({ i })), ...group(i) })),
    batchSize: 1000,
    inFlight: 2,
  });
  if (res.length !== s.jobs) throw new Error(`enqueued ${res.length} of ${s.jobs}`);
  return queue;
}

/** --workers lean claim loops over the queue until every job is completed; the claims made. */
async function drain(pm: PenguinMails, tenantId: string, queue: string, s: Shape): Promise<number> {
  let done = 0;
  let claims = 0;
  const worker = async (workerId: string) => {
    let previous: { jobId: string; attempt: number }[] = [];
    for (;;) {
      claims += 1;
      const res = await pm.queue.claimJobs({ tenantId, queue, workerId, maxJobs: s.batch, leaseSeconds: 60, lean: true, complete: previous });
      for (const c of res.completed) if (c.outcome !== 1) throw new Error(`${workerId}: job ${c.jobId} ended ${c.outcome}: ${c.message}`);
      done += res.completed.length;
      previous = res.claimed.map((c) => ({ jobId: c.id, attempt: c.attempt }));
      if (previous.length === 0) {
        if (done >= s.jobs) return;
        // The groups' slots are taken by the other workers' batches: claim again shortly.
        await new Promise((r) => setTimeout(r, 1));
      }
    }
  };
  await Promise.all(Array.from({ length: s.workers }, (_, w) => worker(`w-${w}`)));
  if (done !== s.jobs) throw new Error(`completed ${done} of ${s.jobs}`);
  return claims;
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  const s: Shape = {
    jobs: intArg(args, 'jobs', 20_000, 100, 1_000_000),
    groups: intArg(args, 'groups', 200, 1, 100_000),
    limit: intArg(args, 'limit', 5, 1, 1000),
    workers: intArg(args, 'workers', 4, 1, 64),
    batch: intArg(args, 'batch', 100, 1, 1000),
  };
  const rounds = intArg(args, 'rounds', 3, 1, 50);
  installInterruptCleanup();
  log(`queue-groups: ${s.jobs} jobs per row, ${s.groups} groups of limit ${s.limit}, ${s.workers} workers claiming ${s.batch}, ${rounds} rounds; load ${loadAverage()}`);
  const platform = await startPlatform({ services: ['queue'], serviceEnv: { queue: { CLAIM_BATCH_MAX: '1000' } } });
  const unregister = onInterrupt(() => platform.stop());
  const pm = createPlatform({ addresses: platform.addresses }, { env: {} });
  const rows: Row[] = [];
  try {
    const tenantId = randomUUID();
    // Warm-up: every mode once over a small queue (JIT of both processes), untimed.
    for (const mode of MODES) await drain(pm, tenantId, await prepare(pm, tenantId, mode, { ...s, jobs: 1000 }), { ...s, jobs: 1000 });
    for (let round = 1; round <= rounds; round++) {
      // The order of the modes rotates each round.
      for (let k = 0; k < MODES.length; k++) {
        const mode = MODES[(k + round - 1) % MODES.length];
        const queue = await prepare(pm, tenantId, mode, s);
        const pid = platform.services.queue.process?.pid;
        const cpu0 = cpuSnapshot(pid);
        const t0 = performance.now();
        const claims = await drain(pm, tenantId, queue, s);
        const seconds = (performance.now() - t0) / 1000;
        rows.push({ mode, round, seconds, claims, cpu: cpuBetween(cpu0, cpuSnapshot(pid)) });
      }
    }
  } finally {
    pm.close();
    await platform.stop();
    unregister();
  }
  const rate = (r: Row) => s.jobs / r.seconds;
  const procs = ['postgres', 'service', 'bench'];
  const out = MODES.map((mode) => {
    const rs = rows.filter((r) => r.mode === mode);
    const ratios = rs.map((r) => rate(r) / rate(rows.find((b) => b.mode === 'ungrouped' && b.round === r.round)!));
    const mid = rs.slice().sort((a, b) => rate(a) - rate(b))[Math.floor((rs.length - 1) / 2)];
    return [
      mode,
      rs.map((r) => rate(r).toFixed(0)).join(' / '),
      mode === 'ungrouped' ? '' : `${median(ratios).toFixed(2)}x (${ratios.map((x) => x.toFixed(2)).join(', ')})`,
      (s.jobs / mid.claims).toFixed(1),
      ...procs.map((p) => (((mid.cpu.get(p) ?? 0) * 1000) / s.jobs).toFixed(1)),
    ];
  });
  log(
    '\n' +
      `Concurrency groups, ${utcMinute()} UTC: ${s.jobs} no-op jobs per row, ${s.groups} groups of limit ${s.limit}, ${s.workers} workers (lean ClaimJobs of ${s.batch}, complete: previous), ${os.availableParallelism()} cores, load ${loadAverage()}\n\n` +
      table(['mode', 'jobs/s, each round', 'vs ungrouped, median (each round)', 'jobs / claim', 'postgres µs/job', 'service µs/job', 'bench µs/job'], out) +
      '\n(jobs / claim and CPU: the median round of the row)',
  );
}

main()
  .then(() => process.exit(0))
  .catch((e) => {
    console.error(e);
    process.exit(1);
  });
