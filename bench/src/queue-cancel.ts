/**
 * bench:queue-cancel — how soon a running job hears that it was cancelled (CancelJob with
 * include_running), from the moment the cancel returned to the moment the handler's
 * `ctx.signal` aborted, for the SDK's worker (`processSendJobs`) against the queue service
 * (services/queue/dist/main.js, the testkit's startPlatform), two ways alternated per round:
 *
 *   heartbeat   `cancelCheckAfterMs: -1`: the worker hears it when its ExtendLease (at half the
 *               lease) is refused — the baseline, what the worker did before CheckLeases
 *   watch       the default: jobs that ran `cancelCheckAfterMs` are watched by one waiting
 *               CheckLeases call, which the cancel's NOTIFY answers
 *
 * Each round: --jobs long jobs (their handlers wait for the abort) run in one worker of as many
 * slots, with a --lease-seconds lease; once every job has run past the watch threshold, they are
 * cancelled one at a time every --gap-ms. Printed: the latency p50 / p99 / max per way and the
 * ratio of the baseline's p50 to the watch's, both measured in the same run; and the watch's
 * cost while nothing is cancelled: CheckLeases calls per second with every job watched (counted
 * on the worker's client over --quiet-ms). Nothing here is a test: no figure is asserted.
 *
 *   npx tsx src/queue-cancel.ts [--jobs 20] [--lease-seconds 10] [--gap-ms 150] [--quiet-ms 10000] [--rounds 3]
 */
import { randomUUID } from 'node:crypto';
import { createPlatform, processSendJobs, type PenguinMails, type QueueApi } from '@penguinmails/sdk';
import { startPlatform } from '@penguinmails/testkit';
import { installInterruptCleanup, onInterrupt } from './lib/pg';
import { intArg, loadAverage, median, ms, parseArgs, percentile, table, utcMinute } from './lib/report';

const log = (s: string) => process.stdout.write(s + '\n');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface Options {
  jobs: number;
  leaseSeconds: number;
  gapMs: number;
  quietMs: number;
  rounds: number;
}

/** The platform's queue client with its CheckLeases calls counted. */
function counting(q: QueueApi): { api: QueueApi; checks: () => number } {
  let n = 0;
  const checkLeases: QueueApi['checkLeases'] = (req, opts) => ((n += 1), q.checkLeases(req, opts));
  return { api: Object.create(q, { checkLeases: { value: checkLeases } }) as QueueApi, checks: () => n };
}

/** One way, one round: the latency of each job's cancel (ms), and CheckLeases calls per second while nothing was cancelled. */
async function runOnce(pm: PenguinMails, o: Options, watch: boolean): Promise<{ latencies: number[]; checksPerSecond: number }> {
  const tenantId = randomUUID();
  const queue = `cancel-${watch ? 'watch' : 'heartbeat'}-${randomUUID().slice(0, 8)}`;
  const ids: string[] = [];
  for (let i = 0; i < o.jobs; i++) ids.push((await pm.queue.enqueueJob({ tenantId, queue, task: 'import', idempotencyKey: randomUUID() })).job!.id);
  const abortedAt = new Map<string, number>();
  const started = new Set<string>();
  const { api, checks } = counting(pm.queue);
  const worker = processSendJobs(
    api,
    { tenantId, queue, batchSize: o.jobs, leaseSeconds: o.leaseSeconds, pollIntervalMs: 50, cancelCheckAfterMs: watch ? 1_000 : -1 },
    async (job, ctx) => {
      started.add(job.id);
      await new Promise<void>((resolve) => ctx.signal.addEventListener('abort', () => resolve(), { once: true }));
      abortedAt.set(job.id, performance.now());
    },
  );
  try {
    for (let i = 0; i < 400 && started.size < o.jobs; i++) await sleep(25);
    if (started.size < o.jobs) throw new Error(`only ${started.size} of ${o.jobs} jobs started`);
    // Past the watch threshold (1 s) and the watch's restarts as the jobs joined it (at most one a
    // second), then a quiet window: what the watch costs while nothing happens. (The waiting call
    // also re-reads the jobs' rows in the service every CLAIM_WAIT_POLL_MS, 1 s by default.)
    await sleep(3_000);
    const before = checks();
    await sleep(o.quietMs);
    const checksPerSecond = (checks() - before) / (o.quietMs / 1000);
    const cancelledAt = new Map<string, number>();
    for (const id of ids) {
      await pm.queue.cancelJob({ tenantId, jobId: id, includeRunning: true });
      cancelledAt.set(id, performance.now());
      await sleep(o.gapMs);
    }
    const limit = Date.now() + o.leaseSeconds * 1000 + 10_000;
    while (abortedAt.size < o.jobs && Date.now() < limit) await sleep(20);
    if (abortedAt.size < o.jobs) throw new Error(`only ${abortedAt.size} of ${o.jobs} handlers heard their cancel`);
    return { latencies: ids.map((id) => Math.max(0, abortedAt.get(id)! - cancelledAt.get(id)!)), checksPerSecond };
  } finally {
    await worker.stop({ timeoutMs: 1_000 });
  }
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  const o: Options = {
    jobs: intArg(args, 'jobs', 20, 1, 1000),
    leaseSeconds: intArg(args, 'lease-seconds', 10, 2, 3600),
    gapMs: intArg(args, 'gap-ms', 150, 0, 60_000),
    quietMs: intArg(args, 'quiet-ms', 10_000, 1_000, 600_000),
    rounds: intArg(args, 'rounds', 3, 1, 50),
  };
  installInterruptCleanup();
  log(`queue-cancel: ${o.jobs} long jobs in one worker, lease ${o.leaseSeconds} s (heartbeat every ${o.leaseSeconds / 2} s), a cancel every ${o.gapMs} ms, ${o.rounds} round(s); load ${loadAverage()}`);
  const platform = await startPlatform({ services: ['queue'] });
  const unregister = onInterrupt(() => platform.stop());
  const pm = createPlatform({ addresses: platform.addresses }, { env: {} });
  const all = { heartbeat: [] as number[], watch: [] as number[] };
  const perRound: string[][] = [];
  const checkRates: number[] = [];
  try {
    for (let r = 1; r <= o.rounds; r++) {
      for (const way of ['heartbeat', 'watch'] as const) {
        const { latencies, checksPerSecond } = await runOnce(pm, o, way === 'watch');
        all[way].push(...latencies);
        if (way === 'watch') checkRates.push(checksPerSecond);
        const s = [...latencies].sort((a, b) => a - b);
        perRound.push([String(r), way, ms(median(s)), ms(percentile(s, 99)), ms(s[s.length - 1] ?? NaN), way === 'watch' ? checksPerSecond.toFixed(2) : '-']);
      }
    }
  } finally {
    pm.close();
    await platform.stop();
    unregister();
  }
  log('');
  log(`Cancel to abort, ${utcMinute()} UTC: ms from CancelJob's answer to the handler's ctx.signal aborting; load ${loadAverage()}`);
  log('');
  log(table(['round', 'way', 'p50 ms', 'p99 ms', 'max ms', 'CheckLeases calls/s, all watched, nothing cancelled'], perRound));
  const hb = [...all.heartbeat].sort((a, b) => a - b);
  const wa = [...all.watch].sort((a, b) => a - b);
  log('');
  log(
    `all rounds: heartbeat p50 ${ms(median(hb))} / p99 ${ms(percentile(hb, 99))} ms; watch p50 ${ms(median(wa))} / p99 ${ms(percentile(wa, 99))} ms; ` +
      `the watch answers ${(median(hb) / Math.max(median(wa), 0.001)).toFixed(0)}x sooner at p50 than the heartbeat (the baseline); ` +
      `its cost while idle: ${median(checkRates).toFixed(2)} CheckLeases calls/s for ${o.jobs} watched jobs`,
  );
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
