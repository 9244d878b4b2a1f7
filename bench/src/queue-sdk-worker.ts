/**
 * bench:queue-sdk-worker — the SDK's worker (`processSendJobs`) against the queue service
 * (services/queue/dist/main.js, the testkit's startPlatform: a fresh database, its own JetStream
 * names), with each way of sending the ends of jobs, alternated in the same invocation:
 *
 *   ackDelayMs -1   one CompleteJob / FailJob per job as it ends (the worker before batching)
 *   ackDelayMs 0    successes ride on the next ClaimJobs; the rest, one CompleteJobs per turn
 *   ackDelayMs 10   the same, a batch waiting up to 10 ms for more ends
 *   lean            ackDelayMs 0 with lean claims (`lean: true`: the handler gets a LeanJob)
 *
 * Each row: --jobs jobs enqueued (untimed), then one worker of --batch slots runs them with a
 * handler that waits --handler-ms (0: a no-op; 5: an I/O-bound job such as a send), timed until
 * the worker has counted every end. Printed: jobs/s, the worker's calls per job (claims and
 * end calls, counted on its client), CPU per job by process (lib/cpu-split.ts). Nothing here
 * is a test: no figure is asserted.
 *
 *   npx tsx src/queue-sdk-worker.ts [--jobs 5000] [--batch 50] [--handler-ms 0,5] [--rounds 3]
 */
import { randomUUID } from 'node:crypto';
import os from 'node:os';
import { createPlatform, processSendJobs, type PenguinMails } from '@penguinmails/sdk';
import { startPlatform } from '@penguinmails/testkit';
import { cpuBetween, cpuSnapshot } from './lib/cpu-split';
import { installInterruptCleanup, onInterrupt } from './lib/pg';
import { intArg, loadAverage, median, parseArgs, table, utcMinute } from './lib/report';

/** The ways the worker runs, the first the baseline of every ratio. */
const MODES = [
  { name: '-1', ackDelayMs: -1, lean: false },
  { name: '0', ackDelayMs: 0, lean: false },
  { name: '10', ackDelayMs: 10, lean: false },
  { name: '0, lean', ackDelayMs: 0, lean: true },
] as const;
type Mode = (typeof MODES)[number];
const workerOptions = (m: Mode) => ({ ackDelayMs: m.ackDelayMs, lean: m.lean });
const log = (s: string) => process.stdout.write(s + '\n');

interface Row {
  mode: string;
  handlerMs: number;
  round: number;
  seconds: number;
  calls: { claims: number; ends: number };
  cpu: Map<string, number>;
}

/** The platform's queue client with the worker's calls counted: claims, and every call that ends jobs. */
function counted(pm: PenguinMails) {
  const q = pm.queue;
  const calls = { claims: 0, ends: 0 };
  const count =
    <K extends 'claimJobs' | 'completeJob' | 'failJob' | 'completeJobs' | 'failJobs'>(k: K) =>
    (...args: Parameters<(typeof q)[K]>) => {
      if (k === 'claimJobs') calls.claims += 1;
      else calls.ends += 1;
      return (q[k] as (...a: unknown[]) => unknown).apply(q, args);
    };
  const api = Object.create(q, {
    claimJobs: { value: count('claimJobs') },
    completeJob: { value: count('completeJob') },
    failJob: { value: count('failJob') },
    completeJobs: { value: count('completeJobs') },
    failJobs: { value: count('failJobs') },
  }) as typeof q;
  return { api, calls };
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  const jobs = intArg(args, 'jobs', 5_000, 100, 1_000_000);
  const batch = intArg(args, 'batch', 50, 1, 1000);
  const rounds = intArg(args, 'rounds', 3, 1, 50);
  const handlerMs = (args.values.get('handler-ms') ?? '0,5').split(',').map(Number);
  installInterruptCleanup();
  log(`queue-sdk-worker: ${jobs} jobs per row, ${batch} slots, handler ${handlerMs.join('/')} ms, ${rounds} rounds; load ${loadAverage()}`);
  const platform = await startPlatform({ services: ['queue'], serviceEnv: { queue: { CLAIM_BATCH_MAX: '1000' } } });
  const unregister = onInterrupt(() => platform.stop());
  const pm = createPlatform({ addresses: platform.addresses }, { env: {} });
  const rows: Row[] = [];
  try {
    const tenantId = randomUUID();
    const enqueue = (queue: string) =>
      pm.enqueueMany({ tenantId, jobs: Array.from({ length: jobs }, (_, i) => ({ queue, task: 'noop', payloadJson: Buffer.from(JSON.stringify({ i })) })), batchSize: 1000, inFlight: 2 });
    // Warm-up: every mode once over a few jobs (JIT of both processes), untimed.
    for (const mode of MODES) {
      await pm.enqueueMany({ tenantId, jobs: Array.from({ length: 500 }, () => ({ queue: 'warm', task: 'noop' })), batchSize: 500 });
      const w = processSendJobs(pm.queue, { tenantId, queue: 'warm', batchSize: batch, waitMs: 0, pollIntervalMs: 10, ...workerOptions(mode) }, async () => undefined);
      while (w.stats.succeeded < 500) await new Promise((r) => setTimeout(r, 10));
      await w.stop();
    }
    for (let round = 1; round <= rounds; round++) {
      for (const h of handlerMs) {
        // The order of the modes rotates each round.
        for (let k = 0; k < MODES.length; k++) {
          const mode = MODES[(k + round - 1) % MODES.length];
          const queue = `q-${randomUUID().slice(0, 8)}`;
          await enqueue(queue);
          const { api, calls } = counted(pm);
          const pid = platform.services.queue.process?.pid;
          const cpu0 = cpuSnapshot(pid);
          const t0 = performance.now();
          const handler = h > 0 ? () => new Promise<void>((r) => setTimeout(r, h)) : async () => undefined;
          const w = processSendJobs(api, { tenantId, queue, batchSize: batch, waitMs: 0, pollIntervalMs: 10, ...workerOptions(mode) }, handler);
          while (w.stats.succeeded + w.stats.errors < jobs) await new Promise((r) => setTimeout(r, 2));
          const seconds = (performance.now() - t0) / 1000;
          const cpu = cpuBetween(cpu0, cpuSnapshot(pid));
          const stats = await w.stop();
          if (stats.errors > 0 || stats.succeeded !== jobs) throw new Error(`mode ${mode.name}: ${JSON.stringify(stats)}`);
          rows.push({ mode: mode.name, handlerMs: h, round, seconds, calls: { ...calls }, cpu });
        }
      }
    }
  } finally {
    pm.close();
    await platform.stop();
    unregister();
  }
  const groups = ['postgres', 'service', 'bench'];
  const rate = (r: Row) => jobs / r.seconds;
  const out: string[][] = [];
  for (const h of handlerMs)
    for (const { name: mode } of MODES) {
      const rs = rows.filter((r) => r.mode === mode && r.handlerMs === h);
      const base = rows.filter((r) => r.mode === MODES[0].name && r.handlerMs === h);
      // The ratio of each round against the same round's ackDelayMs -1 row, then their median.
      const ratios = rs.map((r) => rate(r) / rate(base.find((b) => b.round === r.round)!));
      const mid = rs.slice().sort((a, b) => rate(a) - rate(b))[Math.floor((rs.length - 1) / 2)];
      out.push([
        String(h),
        mode,
        rs.map((r) => rate(r).toFixed(0)).join(' / '),
        mode === MODES[0].name ? '' : `${median(ratios).toFixed(2)}x (${ratios.map((x) => x.toFixed(2)).join(', ')})`,
        (mid.calls.claims / jobs).toFixed(3),
        (mid.calls.ends / jobs).toFixed(3),
        ...groups.map((g) => (((mid.cpu.get(g) ?? 0) * 1000) / jobs).toFixed(1)),
      ]);
    }
  log(
    '\n' +
      `SDK worker (processSendJobs), ${utcMinute()} UTC: ${jobs} jobs per row, ${batch} slots, one worker, ${os.availableParallelism()} cores, load ${loadAverage()}\n\n` +
      table(
        ['handler ms', 'ackDelayMs', 'jobs/s, each round', 'vs -1, median (each round)', 'claims / job', 'end calls / job', 'postgres µs/job', 'service µs/job', 'bench µs/job'],
        out,
      ) +
      '\n(calls and CPU: the median round of the row)',
  );
}

main()
  .then(() => process.exit(0))
  .catch((e) => {
    console.error(e);
    process.exit(1);
  });
