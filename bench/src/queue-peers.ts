/**
 * bench:queue-peers — the queue service's worker protocol against the PostgreSQL queues people
 * use, in one invocation, each in its own fresh database on the same PostgreSQL server:
 *
 *   ours            services/queue/dist/main.js as a child process (its own Node.js thread),
 *                   driven through gRPC, two protocols in the same run:
 *                     full  EnqueueJobs (payload as Struct), ClaimJobs (full Jobs) → CompleteJobs
 *                     lean  EnqueueJobs (payload_json bytes), ClaimJobs { lean, complete: the
 *                           previous batch } — ack-and-fetch, one call per batch
 *   pg-boss         12.x in this process: insert([...]) batches, fetch({ batchSize }) → complete(ids)
 *   graphile-worker 0.18 in this process: addJobs([...]) batches, run({ concurrency, localQueue })
 *
 * Measured: enqueue rate (batches of --batch, one producer), processing rate with 1, 4 and 16
 * workers over a backlog of --jobs no-op jobs (a job counts when its completion is stored),
 * and ours: enqueue-to-claim latency p50/p99 with workers waiting in ClaimJobs wait_ms.
 * Every worker of pg-boss and ours fetches batches of min(--batch, jobs / (4 · workers)), so
 * 16 workers really share the backlog; graphile-worker gets the same number as localQueue.size.
 * Each system first enqueues and processes --warmup jobs untimed, and starts each enqueue row
 * from an empty queue. Where the time goes: CPU per job by process (lib/cpu-split.ts) for
 * every row, and with --writes what PostgreSQL wrote per job; with the lean protocol, a
 * `gRPC floor` row per worker count (lib/grpc-floor.ts): the same calls' bytes through grpc-js
 * alone, the part of the hop's CPU no codec or query of ours adds.
 * Nothing here is a test: no figure is asserted.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { freePort } from '@penguinmails/testkit';
import os from 'node:os';
import path from 'node:path';
import { jetstreamManager } from '@nats-io/jetstream';
import { connect as natsConnect } from '@nats-io/transport-node';
import { queueV1 } from '@penguinmails/contracts';
import { credentials } from '@grpc/grpc-js';
import { call, connect } from '@penguinmails/service-kit';
import { enqueueMany } from '@penguinmails/sdk';
import { Client, Pool } from 'pg';
import { createBenchDatabase, installInterruptCleanup, onInterrupt, type BenchDatabase } from './lib/pg';
import { cpuBetween, cpuSnapshot, type CpuSplit } from './lib/cpu-split';
import { leanMessageSizes, startFloorServer } from './lib/grpc-floor';
import { perJob, WriteMeter, type Writes } from './lib/pg-writes';
import { intArg, loadAverage, median, ms, parseArgs, percentile, table, utcMinute, type Args } from './lib/report';

const TENANT = '3f1c2b0e-8d4a-4c1e-9b7a-2a6f0c5d9e11';
const QUEUE = 'email';
/** The job-feature fields of NewJob (groups, singleton / debounce / throttle) left unset: the bench measures plain jobs. */
const NO_KEYS = { groupKey: '', groupLimit: 0, singletonKey: '', debounce: false, throttleSeconds: 0, holdKey: '' } as const;

export interface PeersOptions {
  jobs: number;
  batch: number;
  workers: number[];
  latencyJobs: number;
  /** --inflight 1,4: enqueue batches in flight at once from the one producer (every system alike). */
  inflight: number[];
  only?: string[];
  /** Which of ours to run: full (Struct payloads, full Jobs, CompleteJobs), lean (gRPC), domain (the service's domain functions in this process). */
  protocols: string[];
  cpuProf?: string;
  /** --writes: what PostgreSQL wrote per job in each phase (WAL records of the bench database, lib/pg-writes.ts). */
  writes: boolean;
  /** --warmup N: jobs each system enqueues and processes before its first timed row (0: none). */
  warmup: number;
  /**
   * --rounds N (default 3, --quick 1): every system N times in the same invocation, the order
   * rotated each round (a checkpoint or a neighbour's burst then hits a different system each
   * time). The tables show each row's median round; the goals line gives every round's ratios
   * and their median. One round's ratio moved between 0.85x and 1.80x on a quiet machine.
   */
  rounds: number;
}

export function peersOptions(args: Args): PeersOptions {
  const quick = args.flags.has('quick');
  return {
    jobs: intArg(args, 'jobs', quick ? 5_000 : 20_000, 1_000, 1_000_000),
    batch: intArg(args, 'batch', 1000, 1, 1000),
    workers: (args.values.get('workers') ?? '1,4,16').split(',').map((s) => Number(s)),
    latencyJobs: intArg(args, 'latency-jobs', quick ? 100 : 300, 10, 10_000),
    inflight: (args.values.get('inflight') ?? '1,4').split(',').map((s) => Number(s)),
    only: args.values.get('peers')?.split(','),
    protocols: (args.values.get('protocols') ?? 'full,lean,domain').split(','),
    cpuProf: args.values.get('cpu-prof'),
    writes: args.flags.has('writes'),
    warmup: intArg(args, 'warmup', quick ? 1_000 : 5_000, 0, 1_000_000),
    rounds: intArg(args, 'rounds', quick ? 1 : 3, 1, 50),
  };
}

interface Row {
  system: string;
  what: string;
  workers: number | string;
  jobs: number;
  seconds: number;
  note: string;
  writes?: Writes;
  /** CPU milliseconds of the phase by process group (lib/cpu-split.ts). */
  cpu?: CpuSplit;
}

/**
 * Meters a phase (started and stopped outside its timed part): the CPU of its processes by
 * group (lib/cpu-split.ts; `service`: the queue service's pid, for ours), and, when --writes
 * asks for it, what PostgreSQL wrote in the phase's database.
 */
async function meter(o: PeersOptions, url: string, service?: number): Promise<{ stop(): Promise<{ writes?: Writes; cpu: CpuSplit }> }> {
  const m = o.writes ? await WriteMeter.open(url) : undefined;
  await m?.start();
  const cpu0 = cpuSnapshot(service);
  return {
    stop: async () => {
      const cpu = cpuBetween(cpu0, cpuSnapshot(service));
      if (!m) return { cpu };
      try {
        return { writes: await m.stop(), cpu };
      } finally {
        await m.close();
      }
    },
  };
}

const log = (s: string) => process.stdout.write(s + '\n');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const perWorkerBatch = (o: PeersOptions, w: number) => Math.max(1, Math.min(o.batch, Math.floor(o.jobs / (4 * w))));
const payload = (i: number) => ({ lead_id: `lead-${i}`, step: 2, campaign: 'c-42' });

/**
 * One producer's enqueue of `n` jobs as batches of `batch`, `lanes` batches in flight at once (a
 * lane sends the next batch when its call returns): the same schedule for every system, so the
 * enqueue rows at 1 and at 4 in flight compare like with like.
 */
async function inFlight(n: number, batch: number, lanes: number, send: (from: number, count: number) => Promise<unknown>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(lanes, Math.ceil(n / batch)) }, async () => {
      while (next < n) {
        const from = next;
        next += batch;
        await send(from, Math.min(batch, n - from));
      }
    }),
  );
}
/**
 * Each system first enqueues and processes --warmup jobs, untimed: its first timed row (the
 * enqueue at 1 in flight) would otherwise also pay for the JIT compilation of its code paths
 * and for first connections — in our case in two processes, the service's and this one.
 */
async function warmUp(o: PeersOptions, enqueue: () => Promise<unknown>, drain: () => Promise<unknown>): Promise<void> {
  if (o.warmup <= 0) return;
  await enqueue();
  await drain();
}
const inFlightNote = (k: number) => (k > 1 ? `, ${k} in flight` : '');

/**
 * One system's enqueue rows: `o.jobs` jobs at each --inflight count, each timed and metered on
 * its own; `after` runs between counts, outside the timing (the backlog drained).
 */
async function enqueueRows(
  o: PeersOptions,
  rows: Row[],
  url: string,
  system: string,
  how: (k: number) => string,
  enqueue: (k: number) => Promise<unknown>,
  after?: () => Promise<unknown>,
  service?: number,
): Promise<void> {
  for (const k of o.inflight) {
    const m = await meter(o, url, service);
    const t0 = performance.now();
    await enqueue(k);
    const seconds = (performance.now() - t0) / 1000;
    rows.push({ system, what: 'enqueue', workers: k, jobs: o.jobs, seconds, note: how(k), ...(await m.stop()) });
    await after?.();
  }
}

// ---------------------------------------------------------------------------------------- ours

async function runOurs(o: PeersOptions, rows: Row[], latency: number[]): Promise<void> {
  const db = await createBenchDatabase('pm_bench_peers_ours');
  const prefix = `B${randomBytes(4).toString('hex').toUpperCase()}`;
  const port = await freePort();
  // QUEUE_PEERS_MAIN: another build of the service (e.g. a copy of a base commit's dist), for before/after runs.
  const main = process.env.QUEUE_PEERS_MAIN
    ? path.resolve(process.env.QUEUE_PEERS_MAIN)
    : path.join(path.dirname(require.resolve('@penguinmails/queue/package.json')), 'dist', 'main.js');
  let child: ChildProcess | undefined;
  const natsUrl = process.env.NATS_URL ?? 'nats://127.0.0.1:4222';
  const cleanupStreams = async () => {
    const nc = await natsConnect({ servers: natsUrl });
    try {
      const jsm = await jetstreamManager(nc);
      for await (const s of jsm.streams.list()) if (s.config.name.startsWith(prefix)) await jsm.streams.delete(s.config.name);
    } finally {
      await nc.close();
    }
  };
  const unregister = onInterrupt(async () => {
    child?.kill('SIGKILL');
    await cleanupStreams();
  });
  // QUEUE_PEERS_CLIENT_WINDOW=<bytes>: the client's HTTP/2 receive window (grpc-js's default is
  // 64 KiB, less than a lean ClaimJobs reply of 1000 jobs): an experiment on where the hop goes.
  const win = Number(process.env.QUEUE_PEERS_CLIENT_WINDOW ?? 0);
  const client =
    win > 0
      ? new queueV1.QueueServiceClient(`127.0.0.1:${port}`, credentials.createInsecure(), { 'grpc-node.flow_control_window': win })
      : connect(queueV1.QueueServiceClient, `127.0.0.1:${port}`);
  try {
    // --cpu-prof DIR: the service writes a V8 CPU profile there when it exits (SIGTERM below).
    const prof = o.cpuProf ? ['--cpu-prof', '--cpu-prof-dir', path.resolve(o.cpuProf)] : [];
    child = spawn(process.execPath, [...prof, main], {
      env: {
        ...process.env,
        DATABASE_URL: db.url,
        DATABASE_POOL_MAX: '20',
        GRPC_HOST: '127.0.0.1',
        GRPC_PORT: String(port),
        NATS_URL: natsUrl,
        EVENTS_SUBJECT_PREFIX: prefix.toLowerCase(),
        EVENTS_STREAM_PREFIX: prefix,
        CLAIM_BATCH_MAX: '1000',
        LOG_LEVEL: 'warn',
      },
      stdio: ['ignore', 'inherit', 'inherit'],
    });
    for (let i = 0; ; i++) {
      try {
        await call(client, 'getQueueStats', { tenantId: TENANT, queue: '' }, { deadlineMs: 1000 });
        break;
      } catch (e) {
        if (i > 150 || child.exitCode !== null) throw new Error(`the queue service did not start: ${(e as Error).message}`);
        await sleep(200);
      }
    }
    const none = Buffer.alloc(0);
    const newJobs = (from: number, n: number, lean: boolean): queueV1.NewJob[] =>
      Array.from({ length: n }, (_, i) => ({
        queue: QUEUE,
        task: 'noop',
        payload: lean ? undefined : payload(from + i),
        payloadJson: lean ? Buffer.from(JSON.stringify(payload(from + i))) : none,
        priority: 0,
        maxAttempts: 0,
        idempotencyKey: '',
        runAt: undefined,
        ...NO_KEYS,
      }));
    const enqueue = async (n: number, lean: boolean) => {
      for (let i = 0; i < n; i += o.batch) await call(client, 'enqueueJobs', { tenantId: TENANT, jobs: newJobs(i, Math.min(o.batch, n - i), lean) });
    };
    // Several batches in flight: the SDK's enqueueMany over this client (what a producer calls).
    const api = { enqueueJobs: (req: unknown) => call(client, 'enqueueJobs', req as queueV1.EnqueueJobsRequest) };
    const enqueueInFlight = async (n: number, lean: boolean, k: number) =>
      k > 1 ? enqueueMany(api as Parameters<typeof enqueueMany>[0], { tenantId: TENANT, jobs: newJobs(0, n, lean), batchSize: o.batch, inFlight: k }) : enqueue(n, lean);

    // The full protocol first (the state before the lean one), then the lean one, same process.
    for (const lean of o.protocols.filter((p) => p !== 'domain').map((p) => p === 'lean')) {
      const system = lean ? 'ours (gRPC, lean)' : 'ours (gRPC, full)';
      await warmUp(o, () => enqueue(o.warmup, lean), () => (lean ? drainLean : drain)(client, o, 4));
      await enqueueRows(
        o,
        rows,
        db.url,
        system,
        (k) => (lean ? `EnqueueJobs of ${o.batch}, payload_json` : `EnqueueJobs of ${o.batch}, payload Struct`) + (k > 1 ? `, ${k} in flight (sdk enqueueMany)` : ''),
        (k) => enqueueInFlight(o.jobs, lean, k),
        () => (lean ? drainLean : drain)(client, o, 4), // the enqueue backlog out of the way
        child.pid,
      );

      for (const w of o.workers) {
        await enqueue(o.jobs, lean);
        const b = perWorkerBatch(o, w);
        const m = await meter(o, db.url, child.pid);
        const t0 = performance.now();
        const done = await (lean ? drainLean : drain)(client, o, w, b);
        const seconds = (performance.now() - t0) / 1000;
        rows.push({
          system,
          what: 'process',
          workers: w,
          jobs: done,
          seconds,
          note: lean ? `ClaimJobs { lean, ${b}, complete: previous }` : `ClaimJobs ${b} → CompleteJobs`,
          ...(await m.stop()),
        });
      }
    }
    if (o.protocols.includes('lean')) await floorRows(o, rows, db.url);

    // Enqueue-to-claim latency: 4 workers wait in ClaimJobs (wait_ms), one job enqueued at a time.
    let stop = false;
    const waiters = Array.from({ length: 4 }, (_, k) =>
      (async () => {
        let previous: queueV1.JobAttempt[] = [];
        while (!stop) {
          const { claimed } = await call(
            client,
            'claimJobs',
            { tenantId: TENANT, queue: 'latency', workerId: `lat-${k}`, maxJobs: 10, leaseSeconds: 60, waitMs: 2000, lean: true, complete: previous },
            { deadlineMs: 5000 },
          );
          const now = Date.now();
          for (const j of claimed) latency.push(now - Number((JSON.parse(Buffer.from(j.payloadJson).toString()) as { t0: number }).t0));
          previous = claimed.map((j) => attemptOf(j.id, j.attempt));
        }
        if (previous.length) await call(client, 'completeJobs', { tenantId: TENANT, workerId: `lat-${k}`, jobs: previous });
      })(),
    );
    await sleep(500);
    for (let i = 0; i < o.latencyJobs; i++) {
      const job = { queue: 'latency', task: 'noop', payload: undefined, payloadJson: Buffer.from(JSON.stringify({ t0: Date.now() })), priority: 0, maxAttempts: 0, idempotencyKey: '', runAt: undefined, ...NO_KEYS };
      await call(client, 'enqueueJobs', { tenantId: TENANT, jobs: [job] });
      await sleep(10);
    }
    for (let i = 0; i < 100 && latency.length < o.latencyJobs; i++) await sleep(50);
    stop = true;
    await Promise.all(waiters);
  } finally {
    client.close();
    if (child && child.exitCode === null) {
      child.kill('SIGTERM');
      await new Promise((r) => child!.once('exit', r));
    }
    await cleanupStreams().catch(() => undefined);
    unregister();
    await db.drop();
  }
}

// ------------------------------------------------------------------ ours, in the bench process

/**
 * `--protocols domain`: the service's own domain functions (services/queue/dist/domain/jobs.js:
 * enqueueJobs, claimJobsLean with `complete`) called in THIS process on a pg pool — the same
 * SQL, transactions and outbox rows as the lean gRPC protocol, without gRPC, the request guard
 * and validation, and the second Node process (nor its outbox relay: the rows stay unpublished).
 * Run next to the gRPC rows it tells how much of our time is the hop, and it is the shape
 * pg-boss and graphile-worker are measured in (a library in the worker's process).
 */
async function runOursDomain(o: PeersOptions, rows: Row[]): Promise<void> {
  const kit = await import('@penguinmails/service-kit');
  // QUEUE_PEERS_MAIN (another build's dist/main.js) applies here too: that build's domain and migrations.
  const dir = process.env.QUEUE_PEERS_MAIN
    ? path.dirname(path.resolve(process.env.QUEUE_PEERS_MAIN))
    : path.join(path.dirname(require.resolve('@penguinmails/queue/package.json')), 'dist');
  /* eslint-disable @typescript-eslint/no-require-imports -- the built service's modules, by path */
  const jobs = require(path.join(dir, 'domain', 'jobs.js')) as typeof import('@penguinmails/queue/dist/domain/jobs');
  const { limitsFrom, loadSettings } = require(path.join(dir, 'config.js')) as typeof import('@penguinmails/queue/dist/config');
  const { MIGRATIONS_DIR } = require(path.join(dir, 'migrations-dir.js')) as typeof import('@penguinmails/queue/dist/migrations-dir');
  /* eslint-enable @typescript-eslint/no-require-imports */
  const db = await createBenchDatabase('pm_bench_peers_domain');
  const logger = kit.createLogger({ service: 'bench-queue-domain', level: 'warn' });
  const s = loadSettings({ ...process.env, DATABASE_URL: db.url, CLAIM_BATCH_MAX: '1000', DATABASE_POOL_MAX: '20', LOG_LEVEL: 'warn' });
  await kit.migratePostgres({ databaseUrl: db.url, migrationsDir: MIGRATIONS_DIR, logger });
  const pool = kit.createPgPool(db.url, { max: 20, logger, statementTimeoutMs: s.GRPC_MAX_CALL_MS });
  const deps = { pool, names: new kit.EventNames('bench', 'BENCH'), limits: limitsFrom(s), logger } as unknown as Parameters<typeof jobs.enqueueJobs>[0];
  const system = 'ours (in-process, domain)';
  try {
    const enqueue = async (n: number, lanes = 1) =>
      inFlight(n, o.batch, lanes, async (i, count) => {
        const batch = Array.from({ length: count }, (_, k) => ({
          queue: QUEUE,
          task: 'noop',
          payload: {},
          payloadJson: JSON.stringify(payload(i + k)),
          priority: 0,
          maxAttempts: 5,
        }));
        await jobs.enqueueJobs(deps, TENANT, batch);
      });
    const drainDomain = async (workers: number, batch: number) => {
      let done = 0;
      await Promise.all(
        Array.from({ length: workers }, async (_, k) => {
          let previous: { jobId: string; attempt: number }[] = [];
          for (;;) {
            const res = await jobs.claimJobsLean(deps, { tenantId: TENANT, queue: QUEUE, workerId: `w-${k}`, limit: batch, leaseSeconds: 300, waitMs: 0, complete: previous, maxReplyBytes: 4_000_000 }); // the gRPC handler's budget at the default 4 MiB
            if (res.completed.some((c) => c.outcome !== 'done')) throw new Error('completions refused');
            done += res.completed.length;
            for (const j of res.rows) JSON.parse(j.payload);
            previous = res.rows.map((j) => ({ jobId: j.id, attempt: j.attempts }));
            if (previous.length === 0) return;
          }
        }),
      );
      return done;
    };
    await warmUp(o, () => enqueue(o.warmup), () => drainDomain(4, o.batch));
    await enqueueRows(o, rows, db.url, system, (k) => `enqueueJobs(${o.batch} jobs, payload JSON text)${inFlightNote(k)}`, (k) => enqueue(o.jobs, k), () => drainDomain(4, o.batch));
    for (const w of o.workers) {
      await enqueue(o.jobs);
      const b = perWorkerBatch(o, w);
      const m = await meter(o, db.url);
      const t0 = performance.now();
      const done = await drainDomain(w, b);
      const seconds = (performance.now() - t0) / 1000;
      rows.push({ system, what: 'process', workers: w, jobs: done, seconds, note: `claimJobsLean({ ${b}, complete: previous })`, ...(await m.stop()) });
    }
  } finally {
    await pool.end();
    await db.drop();
  }
}

/** W workers claim → complete until the queue is empty; returns the jobs completed. */
async function drain(client: queueV1.QueueServiceClient, o: PeersOptions, workers: number, batch = o.batch): Promise<number> {
  let done = 0;
  await Promise.all(
    Array.from({ length: workers }, (_, k) =>
      (async () => {
        for (;;) {
          const { jobs } = await call(client, 'claimJobs', { tenantId: TENANT, queue: QUEUE, workerId: `w-${k}`, maxJobs: batch, leaseSeconds: 300, waitMs: 0, lean: false, complete: [] });
          if (jobs.length === 0) return;
          const res = await call(client, 'completeJobs', {
            tenantId: TENANT,
            workerId: `w-${k}`,
            jobs: jobs.map((j) => ({ jobId: j.id, attempt: j.attempts, error: '', permanent: false, retryAfterSeconds: 0 })),
          });
          const bad = res.results.filter((r) => r.outcome !== queueV1.EndOutcome.END_OUTCOME_DONE);
          if (bad.length) throw new Error(`${bad.length} completions refused: ${bad[0].message}`);
          done += jobs.length;
        }
      })(),
    ),
  );
  return done;
}

/**
 * The gRPC floor (lib/grpc-floor.ts): the lean rows' calls and replies as raw bytes of the same
 * sizes between two Node processes, no codec and no database, at each worker count. Its CPU per
 * job is what the hop cannot go below with grpc-js; ours (gRPC, lean) minus it is our own work.
 */
async function floorRows(o: PeersOptions, rows: Row[], url: string): Promise<void> {
  for (const w of o.workers) {
    const b = perWorkerBatch(o, w);
    const sizes = leanMessageSizes(b, payload);
    const floor = await startFloorServer(sizes);
    try {
      await floor.warm();
      // At least 200,000 job slots: at 30,000 the row lasts ~0.1 s, and /proc counts CPU in 10 ms ticks.
      const jobs = Math.max(o.jobs, 200_000);
      const m = await meter({ ...o, writes: false }, url, floor.pid);
      const seconds = await floor.run(jobs, b, w);
      rows.push({
        system: 'gRPC floor (bytes only)',
        what: 'process',
        workers: w,
        jobs,
        seconds,
        note: `a lean call's ${sizes.request} B and its reply's ${sizes.reply} B (${b} jobs), grpc-js only`,
        ...(await m.stop()),
      });
    } finally {
      floor.close();
    }
  }
}

const attemptOf = (jobId: string, attempt: number): queueV1.JobAttempt => ({ jobId, attempt, output: undefined, error: '', permanent: false, retryAfterSeconds: 0 });

/**
 * The lean protocol: each ClaimJobs completes the previous batch (ack-and-fetch) and returns
 * the next one as ClaimedJob (payload as JSON bytes, parsed here as a worker would).
 */
async function drainLean(client: queueV1.QueueServiceClient, o: PeersOptions, workers: number, batch = o.batch): Promise<number> {
  let done = 0;
  await Promise.all(
    Array.from({ length: workers }, (_, k) =>
      (async () => {
        let previous: queueV1.JobAttempt[] = [];
        for (;;) {
          const res = await call(client, 'claimJobs', {
            tenantId: TENANT,
            queue: QUEUE,
            workerId: `w-${k}`,
            maxJobs: batch,
            leaseSeconds: 300,
            waitMs: 0,
            lean: true,
            complete: previous,
          });
          const bad = res.completed.filter((r) => r.outcome !== queueV1.EndOutcome.END_OUTCOME_DONE);
          if (bad.length) throw new Error(`${bad.length} completions refused: ${bad[0].message}`);
          done += res.completed.length;
          for (const j of res.claimed) JSON.parse(Buffer.from(j.payloadJson).toString()); // the worker reads its payload
          previous = res.claimed.map((j) => attemptOf(j.id, j.attempt));
          if (previous.length === 0) return;
        }
      })(),
    ),
  );
  return done;
}

// ------------------------------------------------------------------------------------- pg-boss

async function runPgBoss(o: PeersOptions, rows: Row[]): Promise<void> {
  const { PgBoss } = await import('pg-boss');
  const db = await createBenchDatabase('pm_bench_peers_pgboss');
  const boss = new PgBoss({ connectionString: db.url, max: 20, schedule: false, supervise: false });
  boss.on('error', (e) => process.stderr.write(`pg-boss: ${e}\n`));
  try {
    await boss.start();
    await boss.createQueue(QUEUE);
    const enqueue = async (n: number, lanes = 1) =>
      inFlight(n, o.batch, lanes, (i, count) => boss.insert(QUEUE, Array.from({ length: count }, (_, k) => ({ data: payload(i + k) }))));
    const drainBoss = async (workers: number, batch: number) => {
      let done = 0;
      await Promise.all(
        Array.from({ length: workers }, async () => {
          for (;;) {
            const jobs = await boss.fetch(QUEUE, { batchSize: batch });
            if (jobs.length === 0) return;
            await boss.complete(QUEUE, jobs.map((j) => j.id));
            done += jobs.length;
          }
        }),
      );
      return done;
    };
    await warmUp(o, () => enqueue(o.warmup), () => drainBoss(4, o.batch));
    await enqueueRows(o, rows, db.url, 'pg-boss 12', (k) => `insert([${o.batch}])${inFlightNote(k)}`, (k) => enqueue(o.jobs, k), () => drainBoss(4, o.batch));
    for (const w of o.workers) {
      await enqueue(o.jobs);
      const b = perWorkerBatch(o, w);
      const m = await meter(o, db.url);
      const t0 = performance.now();
      const done = await drainBoss(w, b);
      const seconds = (performance.now() - t0) / 1000;
      rows.push({ system: 'pg-boss 12', what: 'process', workers: w, jobs: done, seconds, note: `fetch({ batchSize: ${b} }) → complete(ids)`, ...(await m.stop()) });
    }
  } finally {
    await boss.stop({ graceful: false }).catch(() => undefined);
    await db.drop();
  }
}

// ----------------------------------------------------------------------------- graphile-worker

async function runGraphile(o: PeersOptions, rows: Row[]): Promise<void> {
  const gw = await import('graphile-worker');
  const db = await createBenchDatabase('pm_bench_peers_graphile');
  // Our own pool for the utils: graphile-worker's release() drops its error listeners and then
  // ends the pool it made without waiting, so dropping the database right after (with force) could
  // end a still-open client with no listener left, and the bench died of the 'error' event.
  const utilsPool = new Pool({ connectionString: db.url, max: 4 });
  utilsPool.on('error', () => undefined);
  utilsPool.on('connect', (c) => c.on('error', () => undefined));
  const utils = await gw.makeWorkerUtils({ pgPool: utilsPool });
  const counter = new Client({ connectionString: db.url });
  await counter.connect();
  try {
    await utils.migrate();
    const enqueue = async (n: number, lanes = 1) =>
      inFlight(n, o.batch, lanes, (i, count) => utils.addJobs(Array.from({ length: count }, (_, k) => ({ identifier: 'noop', payload: payload(i + k) }))));
    const left = async () => (await counter.query<{ n: number }>('select count(*)::int as n from graphile_worker._private_jobs')).rows[0].n;
    const drainGw = async (concurrency: number, size: number) => {
      const runner = await gw.run({
        connectionString: db.url,
        concurrency,
        noHandleSignals: true,
        pollInterval: 1000,
        taskList: { noop: async () => undefined },
        logger: new gw.Logger(() => () => undefined),
        preset: { worker: { localQueue: { size }, completeJobBatchDelay: 0, maxPoolSize: Math.max(10, concurrency + 2) } },
      });
      // A job counts once its completion is stored (the row deleted), as for the others.
      while ((await left()) > 0) await sleep(20);
      await runner.stop();
    };
    await warmUp(o, () => enqueue(o.warmup), () => drainGw(4, o.batch));
    await enqueueRows(o, rows, db.url, 'graphile-worker 0.18', (k) => `addJobs([${o.batch}])${inFlightNote(k)}`, (k) => enqueue(o.jobs, k), () => drainGw(4, o.batch));
    for (const w of o.workers) {
      await enqueue(o.jobs);
      const b = perWorkerBatch(o, w);
      const m = await meter(o, db.url);
      const t0 = performance.now();
      await drainGw(w, b);
      const seconds = (performance.now() - t0) / 1000;
      rows.push({ system: 'graphile-worker 0.18', what: 'process', workers: w, jobs: o.jobs, seconds, note: `run({ concurrency: ${w}, localQueue.size: ${b} })`, ...(await m.stop()) });
    }
  } finally {
    await counter.end();
    await utils.release();
    await utilsPool.end();
    await db.drop();
  }
}

// ---------------------------------------------------------------------------------------- main

const rate = (r: Row) => r.jobs / r.seconds;
/** A system's best rate over its rows of one kind (0 when it has none). */
const bestRate = (rows: Row[], system: string, what: Row['what']) => Math.max(0, ...rows.filter((r) => r.system === system && r.what === what).map(rate));
const rateAt = (rows: Row[], system: string, what: Row['what'], k: number | string) =>
  rate(rows.find((r) => r.system === system && r.what === what && r.workers === k) ?? ({ jobs: 0, seconds: 1 } as Row));

/**
 * Each row of the first round replaced by the same row's median round (by jobs/s; the lower of
 * the two middle ones for an even count), with that round's CPU and writes: a whole measured
 * row, not an average of rows.
 */
function medianRows(rounds: Row[][]): Row[] {
  if (rounds.length === 1) return rounds[0];
  return rounds[0].map((r) => {
    const same = rounds.map((rr) => rr.find((x) => x.system === r.system && x.what === r.what && x.workers === r.workers)).filter((x): x is Row => !!x);
    return same.sort((a, b) => rate(a) - rate(b))[Math.floor((same.length - 1) / 2)];
  });
}

/** The issue's goals for each of ours in `rows` (one round, or the median rows). */
function goals(o: PeersOptions, rows: Row[]): { system: string; line: string; boss: number; graphile: number; enqueue: number[] }[] {
  const best = (system: string, what: Row['what']) => bestRate(rows, system, what);
  const bossProc = best('pg-boss 12', 'process');
  const gwProc = best('graphile-worker 0.18', 'process');
  const out = [];
  for (const system of ['ours (gRPC, full)', 'ours (gRPC, lean)', 'ours (in-process, domain)']) {
    const ours = best(system, 'process');
    if (!ours || !bossProc || !gwProc) continue;
    const enqueue = o.inflight.map((k) => rateAt(rows, system, 'enqueue', k) / (rateAt(rows, 'pg-boss 12', 'enqueue', k) || NaN));
    out.push({
      system,
      boss: ours / bossProc,
      graphile: ours / gwProc,
      enqueue,
      line:
        `goals, ${system}: processing ≥ 1.5x pg-boss's best (${(ours / bossProc).toFixed(2)}x) and ≥ 0.5x graphile-worker's (${(ours / gwProc).toFixed(2)}x); ` +
        `enqueue ≥ pg-boss's batch insert (${o.inflight.map((k, i) => `${k} in flight ${enqueue[i].toFixed(2)}x`).join(', ')}); ` +
        // The other reading of "1.5x pg-boss": each worker count against pg-boss at the same count.
        `processing vs pg-boss at the same workers (${o.workers.map((w) => `${w}: ${(rateAt(rows, system, 'process', w) / (rateAt(rows, 'pg-boss 12', 'process', w) || NaN)).toFixed(2)}x`).join(', ')})`,
    });
  }
  return out;
}

export async function runPeers(o: PeersOptions): Promise<string> {
  installInterruptCleanup();
  const latency: number[] = [];
  const want = (p: string) => !o.only || o.only.includes(p);
  log(`queue-peers: ${o.jobs} jobs, batch ${o.batch}, workers ${o.workers.join('/')}, ${o.rounds} round(s); load ${loadAverage()}`);
  const systems: ((rows: Row[]) => Promise<void>)[] = [];
  if (want('pg-boss')) systems.push((rows) => runPgBoss(o, rows));
  if (want('graphile')) systems.push((rows) => runGraphile(o, rows));
  if (want('ours') && o.protocols.some((p) => p !== 'domain')) systems.push((rows) => runOurs(o, rows, latency));
  if (want('ours') && o.protocols.includes('domain')) systems.push((rows) => runOursDomain(o, rows));
  const rounds: Row[][] = [];
  for (let r = 0; r < o.rounds; r++) {
    const rows: Row[] = [];
    for (let k = 0; k < systems.length; k++) await systems[(k + r) % systems.length](rows);
    rounds.push(rows);
    if (o.rounds > 1) {
      // Each system's best processing rate of the round: which side of a ratio moved.
      const bestOf = [...new Set(rows.filter((x) => x.what === 'process' && !x.system.startsWith('gRPC floor')).map((x) => x.system))].map(
        (sys) => `${sys} ${bestRate(rows, sys, 'process').toFixed(0)}`,
      );
      for (const g of goals(o, rows)) log(`round ${r + 1} (load ${loadAverage()}): ${g.line}; best processing jobs/s: ${bestOf.join(', ')}`);
    }
  }
  const rows = medianRows(rounds);

  const best = (system: string, what: Row['what']) => bestRate(rows, system, what);
  const boss = { enq: best('pg-boss 12', 'enqueue'), proc: best('pg-boss 12', 'process') };
  const gwk = { enq: best('graphile-worker 0.18', 'enqueue'), proc: best('graphile-worker 0.18', 'process') };
  // Enqueue rows compare with the peer's enqueue at the same number of batches in flight.
  const enqAt = (system: string, k: number | string) => rateAt(rows, system, 'enqueue', k);
  const vs = (r: Row) => {
    if (!r.system.startsWith('ours')) return '';
    const ref = r.what === 'enqueue' ? [enqAt('pg-boss 12', r.workers), enqAt('graphile-worker 0.18', r.workers)] : [boss.proc, gwk.proc];
    return `${ref[0] ? (rate(r) / ref[0]).toFixed(2) + 'x' : '-'} / ${ref[1] ? (rate(r) / ref[1]).toFixed(2) + 'x' : '-'}`;
  };
  const out = [
    `Queue peers, ${utcMinute()} UTC: ${o.jobs} no-op jobs per row, one tenant, one queue, load ${loadAverage()}` +
      (o.rounds > 1 ? `; each row is its median round of ${o.rounds} (jobs/s and CPU of that round)` : ''),
    '',
    table(
      ['system', 'what', 'workers (enqueue: in flight)', 'jobs', 'seconds', 'jobs/s', 'ours vs pg-boss / graphile-worker (process: their best; enqueue: same in flight)', 'how'],
      rows.map((r) => [r.system, r.what, r.workers, r.jobs, r.seconds.toFixed(2), rate(r).toFixed(0), vs(r), r.note]),
    ),
  ];
  if (latency.length)
    out.push(
      '',
      `ours, enqueue-to-claim latency (4 workers waiting in a lean ClaimJobs wait_ms, one EnqueueJobs of 1 job every ~10 ms, n=${latency.length}): ` +
        `p50 ${ms(percentile(latency, 50))} ms, p99 ${ms(percentile(latency, 99))} ms, max ${ms(Math.max(...latency))} ms`,
    );
  // Where the time goes: CPU per job by process, and how many of the machine's cores the phase kept busy.
  const timed = rows.filter((r) => r.cpu && r.cpu.size > 0);
  if (timed.length) {
    const groups = ['postgres', 'service', 'bench', 'nats'];
    const total = (r: Row) => [...r.cpu!.values()].reduce((a, b) => a + b, 0);
    out.push(
      '',
      `CPU per job by process, µs (user + system time from /proc, lib/cpu-split.ts; postgres: every process of the server; bench: this process, where pg-boss and graphile-worker run; ${os.availableParallelism()} cores):`,
      '',
      table(
        ['system', 'what', 'workers (enqueue: in flight)', ...groups, 'total', 'cores busy'],
        timed.map((r) => [
          r.system,
          r.what,
          r.workers,
          ...groups.map((g) => (r.cpu!.has(g) ? ((r.cpu!.get(g)! * 1000) / r.jobs).toFixed(1) : '-')),
          ((total(r) * 1000) / r.jobs).toFixed(1),
          (total(r) / 1000 / r.seconds).toFixed(2),
        ]),
      ),
    );
  }
  const metered = rows.filter((r) => r.writes);
  if (metered.length) {
    const cols = Object.keys(perJob(metered[0].writes!, 1));
    out.push(
      '',
      'What PostgreSQL wrote per job (WAL records of the system\'s own database between the phase\'s LSNs, pg_walinspect; xacts from pg_stat_database):',
      '',
      table(['system', 'what', 'workers', ...cols], metered.map((r) => [r.system, r.what, r.workers, ...Object.values(perJob(r.writes!, r.jobs))])),
    );
    // Where the heap rows and index entries went, for enqueue and the 4-worker processing row.
    const detail = metered.filter((r) => r.what === 'enqueue' || r.workers === 4);
    out.push('', 'Heap and index writes per job by relation (enqueue, and processing at 4 workers):', '');
    for (const r of detail) {
      const parts = [...r.writes!.relations].filter(([, n]) => n / r.jobs >= 0.005).sort((a, b) => b[1] - a[1]).map(([k, n]) => `${k} ${(n / r.jobs).toFixed(2)}`);
      out.push(`- ${r.system} ${r.what}${r.what === 'process' ? ` (${r.workers} workers)` : ''}: ${parts.join(', ')}`);
    }
  }
  for (const g of goals(o, rows)) {
    // With rounds: the ratios of each round (same invocation, same machine), and their median
    // (lib/report's: the lower middle one for an even count, as medianRows picks rows).
    const each = rounds.map((rr) => goals(o, rr).find((x) => x.system === g.system)!);
    out.push(
      o.rounds > 1
        ? `${g.line}\n  each round (processing vs pg-boss's best / graphile-worker's best; enqueue vs pg-boss at ${o.inflight.join(' / ')} in flight): ` +
            each.map((x) => `${x.boss.toFixed(2)}x / ${x.graphile.toFixed(2)}x; ${x.enqueue.map((e) => e.toFixed(2) + 'x').join(' / ')}`).join(' | ') +
            `\n  median of the rounds: processing ${median(each.map((x) => x.boss)).toFixed(2)}x pg-boss's best, ${median(each.map((x) => x.graphile)).toFixed(2)}x graphile-worker's; ` +
            `enqueue ${o.inflight.map((k, i) => `${k} in flight ${median(each.map((x) => x.enqueue[i])).toFixed(2)}x`).join(', ')}`
        : g.line,
    );
  }
  const report = out.join('\n');
  log('\n' + report);
  return report;
}

if (require.main === module) {
  runPeers(peersOptions(parseArgs(process.argv.slice(2))))
    .then(() => process.exit(0))
    .catch((e) => {
      console.error(e);
      process.exit(1);
    });
}
