/**
 * bench:replicas — scaling with 1, 2 and 3 replicas of a service on one store, as in production:
 * each replica is the service's own dist/main.js, a separate Node.js process.
 *
 *   queue     N queue processes on one database. A backlog of --jobs jobs (lean EnqueueJobs
 *             through replica 1), then --workers workers in total, spread round-robin over the
 *             N replicas, ClaimJobs (--batch) → CompleteJobs until the queue is empty.
 *             Figure: jobs claimed and completed per second.
 *   metadata  N metadata processes on one database and one stream. A backlog of --events outbox
 *             rows committed in one transaction (so all relays see it at once, NOTIFY wakes
 *             them); timed until every row is published. Figure: events published per second,
 *             and each relay's share (pm_outbox_published_total from its /metrics).
 *
 * The worker count stays the same for every N so that only the number of service processes
 * changes. Ratios are against 1 replica in the same run. On a machine with fewer cores than
 * replicas + PostgreSQL + NATS + the driver, the figures show contention, not scaling: read
 * them with the load average printed beside them. Nothing here is a test: no figure is asserted.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { freePort } from '@penguinmails/testkit';
import path from 'node:path';
import { credentials, Client as GrpcClient, Metadata } from '@grpc/grpc-js';
import { jetstreamManager } from '@nats-io/jetstream';
import { connect as natsConnect } from '@nats-io/transport-node';
import { queueV1 } from '@penguinmails/contracts';
import { EventNames, call, connect } from '@penguinmails/service-kit';
import { Client } from 'pg';
import { createBenchDatabase, installInterruptCleanup, onInterrupt } from './lib/pg';
import { intArg, loadAverage, parseArgs, table, type Args } from './lib/report';

const TENANT = '6a1d8f3e-2b7c-4e0a-9d51-0c4b7e2f9a10';
const NATS_URL = process.env.NATS_URL ?? 'nats://127.0.0.1:4222';

export interface ReplicasOptions {
  replicas: number[];
  jobs: number;
  events: number;
  workers: number;
  batch: number;
  tiers: string[];
}

export function replicasOptions(args: Args): ReplicasOptions {
  const quick = args.flags.has('quick');
  return {
    replicas: (args.values.get('replicas') ?? '1,2,3').split(',').map(Number),
    jobs: intArg(args, 'jobs', quick ? 3_000 : 12_000, 100, 1_000_000),
    events: intArg(args, 'events', quick ? 5_000 : 20_000, 100, 1_000_000),
    workers: intArg(args, 'workers', 6, 1, 64),
    batch: intArg(args, 'batch', 100, 1, 1000),
    tiers: (args.values.get('tiers') ?? 'queue,metadata').split(','),
  };
}

const log = (s: string) => process.stdout.write(s + '\n');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface Replica {
  proc: ChildProcess;
  port: number;
  metricsPort: number;
}

/** grpc.health.v1 Check(""): true when SERVING (response field 1 = 1). */
function serving(port: number): Promise<boolean> {
  const c = new GrpcClient(`127.0.0.1:${port}`, credentials.createInsecure());
  return new Promise((resolve) => {
    c.makeUnaryRequest(
      '/grpc.health.v1.Health/Check',
      (b: Buffer) => b,
      (b: Buffer) => b,
      Buffer.alloc(0),
      new Metadata(),
      { deadline: Date.now() + 1000 },
      (err, res?: Buffer) => {
        c.close();
        resolve(!err && !!res && res.length >= 2 && res[0] === 0x08 && res[1] === 0x01);
      },
    );
  });
}

/** Starts `n` processes of a service's dist/main.js on one store and waits until all serve. */
async function startReplicas(service: string, n: number, env: Record<string, string>): Promise<Replica[]> {
  const main = path.join(path.dirname(require.resolve(`@penguinmails/${service}/package.json`)), 'dist', 'main.js');
  const out: Replica[] = [];
  for (let i = 0; i < n; i++) {
    const port = await freePort();
    const metricsPort = await freePort();
    const proc = spawn(process.execPath, [main], {
      env: { ...process.env, ...env, GRPC_HOST: '127.0.0.1', GRPC_PORT: String(port), METRICS_PORT: String(metricsPort), LOG_LEVEL: 'warn' },
      stdio: ['ignore', 'inherit', 'inherit'],
    });
    out.push({ proc, port, metricsPort });
  }
  for (const r of out) {
    for (let i = 0; !(await serving(r.port)); i++) {
      if (i > 300 || r.proc.exitCode !== null) throw new Error(`${service} replica on ${r.port} did not start`);
      await sleep(100);
    }
  }
  return out;
}

async function stopReplicas(rs: Replica[]): Promise<void> {
  await Promise.all(
    rs.map(async (r) => {
      if (r.proc.exitCode !== null || r.proc.signalCode !== null) return;
      r.proc.kill('SIGTERM');
      await new Promise((res) => r.proc.once('exit', res));
    }),
  );
}

async function dropStreams(prefix: string): Promise<void> {
  const nc = await natsConnect({ servers: NATS_URL });
  try {
    const jsm = await jetstreamManager(nc);
    for await (const s of jsm.streams.list()) if (s.config.name.startsWith(prefix)) await jsm.streams.delete(s.config.name);
  } finally {
    await nc.close();
  }
}

interface Figure {
  tier: string;
  replicas: number;
  items: number;
  seconds: number;
  share: string;
}

// ---------------------------------------------------------------------------------------- queue

async function benchQueue(o: ReplicasOptions, figures: Figure[]): Promise<void> {
  const db = await createBenchDatabase('pm_bench_replicas_queue');
  const prefix = `R${randomBytes(4).toString('hex').toUpperCase()}`;
  const env = { DATABASE_URL: db.url, NATS_URL, EVENTS_SUBJECT_PREFIX: prefix.toLowerCase(), EVENTS_STREAM_PREFIX: prefix, CLAIM_BATCH_MAX: '1000' };
  let replicas: Replica[] = [];
  const unregister = onInterrupt(async () => {
    for (const r of replicas) r.proc.kill('SIGKILL');
    await dropStreams(prefix);
  });
  try {
    // All the replicas run through the whole bench; N of them serve the workers in round N (the
    // others idle), so process start-up and migrations are outside the timed part.
    replicas = await startReplicas('queue', Math.max(...o.replicas), env);
    const clients = replicas.map((r) => connect(queueV1.QueueServiceClient, `127.0.0.1:${r.port}`));
    try {
      for (const n of o.replicas) {
        const queue = `r${n}`;
        for (let i = 0; i < o.jobs; i += 1000) {
          const jobs = Array.from({ length: Math.min(1000, o.jobs - i) }, (_, k) => ({
            queue,
            task: 'noop',
            payload: undefined,
            payloadJson: Buffer.from(JSON.stringify({ i: i + k })),
            priority: 0,
            maxAttempts: 0,
            idempotencyKey: '',
            runAt: undefined,
            groupKey: '',
            groupLimit: 0,
            singletonKey: '',
            debounce: false,
            throttleSeconds: 0,
            holdKey: '',
          }));
          await call(clients[0], 'enqueueJobs', { tenantId: TENANT, jobs });
        }
        const perReplica = new Array<number>(n).fill(0);
        const t0 = performance.now();
        await Promise.all(
          Array.from({ length: o.workers }, (_, w) =>
            (async () => {
              const r = w % n;
              const client = clients[r];
              for (;;) {
                const { jobs } = await call(client, 'claimJobs', { tenantId: TENANT, queue, workerId: `w-${w}`, maxJobs: o.batch, leaseSeconds: 300, waitMs: 0, lean: false, complete: [] });
                if (jobs.length === 0) return;
                const res = await call(client, 'completeJobs', {
                  tenantId: TENANT,
                  workerId: `w-${w}`,
                  jobs: jobs.map((j) => ({ jobId: j.id, attempt: j.attempts, output: undefined, error: '', permanent: false, retryAfterSeconds: 0 })),
                });
                const bad = res.results.filter((x) => x.outcome !== queueV1.EndOutcome.END_OUTCOME_DONE);
                if (bad.length) throw new Error(`${bad.length} completions refused: ${bad[0].message}`);
                perReplica[r] += jobs.length;
              }
            })(),
          ),
        );
        const seconds = (performance.now() - t0) / 1000;
        const done = perReplica.reduce((a, b) => a + b, 0);
        if (done !== o.jobs) throw new Error(`queue: ${done} jobs completed of ${o.jobs}`);
        figures.push({ tier: 'queue (ClaimJobs → CompleteJobs)', replicas: n, items: done, seconds, share: perReplica.join(' / ') });
        log(`  queue, ${n} replica(s): ${done} jobs in ${seconds.toFixed(2)} s; load ${loadAverage()}`);
      }
    } finally {
      for (const c of clients) c.close();
    }
  } finally {
    await stopReplicas(replicas);
    await dropStreams(prefix).catch(() => undefined);
    unregister();
    await db.drop();
  }
}

// ------------------------------------------------------------------------------------- metadata

function metric(text: string, name: string): number {
  const line = text.split('\n').find((l) => l.startsWith(name + ' '));
  return line ? Number(line.slice(line.lastIndexOf(' ') + 1)) : 0;
}

async function benchMetadata(o: ReplicasOptions, figures: Figure[]): Promise<void> {
  const db = await createBenchDatabase('pm_bench_replicas_metadata');
  const prefix = `R${randomBytes(4).toString('hex').toUpperCase()}`;
  const names = new EventNames(prefix.toLowerCase(), prefix);
  const env = { DATABASE_URL: db.url, NATS_URL, EVENTS_SUBJECT_PREFIX: prefix.toLowerCase(), EVENTS_STREAM_PREFIX: prefix, CONTENT_URL: '127.0.0.1:1' };
  let replicas: Replica[] = [];
  const unregister = onInterrupt(async () => {
    for (const r of replicas) r.proc.kill('SIGKILL');
    await dropStreams(prefix);
  });
  const pg = new Client({ connectionString: db.url });
  try {
    for (const n of o.replicas) {
      // Only N processes run in round N: each has a relay, and idle relays would share the work.
      replicas = await startReplicas('metadata', n, env);
      if (n === o.replicas[0]) await pg.connect();
      // A 200-byte payload (a LeadCreated envelope is about that size); the relay publishes the
      // bytes as they are, with the row id as Nats-Msg-Id.
      const payload = randomBytes(200);
      const t0 = performance.now();
      await pg.query(
        `insert into outbox_events (id, tenant_id, subject, event_type, payload)
         select gen_random_uuid(), $1, $2, 'bench.Replicas', $3 from generate_series(1, $4::int)`,
        [TENANT, names.subject('metadata', TENANT, 'bench_replicas'), payload, o.events],
      );
      for (;;) {
        const { rows } = await pg.query<{ n: string }>('select count(*) as n from outbox_events where published is null');
        if (rows[0].n === '0') break;
        await sleep(20);
      }
      const seconds = (performance.now() - t0) / 1000;
      const shares = await Promise.all(replicas.map(async (r) => metric(await (await fetch(`http://127.0.0.1:${r.metricsPort}/metrics`)).text(), 'pm_outbox_published_total')));
      figures.push({ tier: 'metadata (outbox relays → JetStream)', replicas: n, items: o.events, seconds, share: shares.join(' / ') });
      log(`  metadata, ${n} replica(s): ${o.events} events in ${seconds.toFixed(2)} s; load ${loadAverage()}`);
      await stopReplicas(replicas);
      replicas = [];
    }
  } finally {
    await pg.end().catch(() => undefined);
    await stopReplicas(replicas);
    await dropStreams(prefix).catch(() => undefined);
    unregister();
    await db.drop();
  }
}

export async function runReplicas(o: ReplicasOptions): Promise<string> {
  installInterruptCleanup();
  const started = new Date().toISOString();
  const loadBefore = loadAverage();
  log(`replicas: ${o.replicas.join('/')} replicas; queue ${o.jobs} jobs, ${o.workers} workers, batch ${o.batch}; metadata ${o.events} events; load ${loadBefore}`);
  const figures: Figure[] = [];
  if (o.tiers.includes('queue')) await benchQueue(o, figures);
  if (o.tiers.includes('metadata')) await benchMetadata(o, figures);
  const rows = figures.map((f) => {
    const base = figures.find((b) => b.tier === f.tier && b.replicas === Math.min(...o.replicas));
    const rate = f.items / f.seconds;
    const ratio = base ? (rate / (base.items / base.seconds)).toFixed(2) + 'x' : '-';
    return [f.tier, f.replicas, f.items, f.seconds.toFixed(2), Math.round(rate), ratio, f.share];
  });
  return [
    `replicas (${started}, ${require('node:os').cpus().length} cores, load before ${loadBefore}, after ${loadAverage()}; ratio = per second vs 1 replica, same run)`,
    table(['tier', 'replicas', 'items', 'seconds', 'per second', 'vs 1', 'per replica'], rows),
  ].join('\n');
}

if (require.main === module) {
  runReplicas(replicasOptions(parseArgs(process.argv.slice(2))))
    .then((report) => {
      process.stdout.write('\n' + report + '\n');
      process.exit(0);
    })
    .catch((err) => {
      process.stderr.write(`bench failed: ${(err as Error).stack ?? err}\n`);
      process.exit(1);
    });
}
