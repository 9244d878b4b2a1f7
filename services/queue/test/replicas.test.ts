import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import path from 'node:path';
import { jetstreamManager } from '@nats-io/jetstream';
import { queueV1 } from '@penguinmails/contracts';
import { call, connect, readMigrations } from '@penguinmails/service-kit';
import { freshDatabase, listeningPorts, natsTestContext, outboxPublished, type FreshDatabase, type NatsTestContext } from '@penguinmails/testkit';
import { Client } from 'pg';
import { MIGRATIONS_DIR as migrationsDir } from '../src/migrations-dir';
import { NO_KEYS, sleep, tenant } from './harness';

// Three queue processes (dist/main.js, as in production) on one empty database, started at the
// same moment: the migrations apply once; workers spread over the three claim every job exactly
// once; the three outbox relays put each event in the stream exactly once; and each process
// serves Prometheus /metrics with RED counts by code and the queue/outbox/pool gauges. One
// replica's METRICS_PORT is taken: it says so in one line and serves gRPC anyway.

const MAIN = path.join(__dirname, '..', 'dist', 'main.js');
const REPLICAS = 3;
const JOBS = 600;


let db: FreshDatabase;
let nats: NatsTestContext;
const children: { proc: ChildProcess; port: number; metricsPort: number; out: string[]; ready: Promise<{ grpc: number; metrics?: number }> }[] = [];
let blocker: Server;

beforeAll(async () => {
  db = await freshDatabase(); // empty: the replicas migrate it
  nats = await natsTestContext();
  blocker = createServer();
  await new Promise<void>((r) => blocker.listen(0, '127.0.0.1', () => r()));
});
afterAll(async () => {
  await Promise.all(
    children.map(async (c) => {
      if (c.proc.exitCode === null && c.proc.signalCode === null) {
        c.proc.kill('SIGTERM');
        await new Promise((r) => c.proc.once('exit', r));
      }
    }),
  );
  blocker?.close();
  await nats?.cleanup();
  await db?.drop();
});

async function scrape(port: number): Promise<string> {
  const res = await fetch(`http://127.0.0.1:${port}/metrics`);
  expect(res.status).toBe(200);
  return res.text();
}

/** The value of one series, e.g. `grpc_server_handled_total{...grpc_method="EnqueueJobs"...grpc_code="OK"}`. */
function value(text: string, name: string, labels: Record<string, string>): number | undefined {
  for (const line of text.split('\n')) {
    if (!line.startsWith(name + '{') && !line.startsWith(name + ' ')) continue;
    if (Object.entries(labels).every(([k, v]) => line.includes(`${k}="${v}"`))) return Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return undefined;
}

(existsSync(MAIN) ? it : it.skip)('three replicas on one database: migrate once, claim once, relay once, /metrics each', async () => {
  const taken = (blocker.address() as { port: number }).port;
  for (let i = 0; i < REPLICAS; i++) {
    // Port 0: the OS picks each port when the replica binds it (read from its ready line).
    const metricsPort = i === 2 ? taken : 0;
    const out: string[] = [];
    const proc = spawn(process.execPath, [MAIN], {
      env: {
        ...process.env,
        DATABASE_URL: db.url,
        GRPC_HOST: '127.0.0.1',
        GRPC_PORT: '0',
        METRICS_PORT: String(metricsPort),
        NATS_URL: nats.url,
        EVENTS_SUBJECT_PREFIX: nats.subjectPrefix,
        EVENTS_STREAM_PREFIX: nats.streamPrefix,
        LOG_LEVEL: 'info',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    proc.stdout!.on('data', (d: Buffer) => out.push(d.toString()));
    proc.stderr!.on('data', (d: Buffer) => out.push(d.toString()));
    children.push({ proc, port: 0, metricsPort, out, ready: listeningPorts(proc, { timeoutMs: 90_000 }) });
  }
  for (const c of children) {
    const bound = await c.ready;
    c.port = bound.grpc;
    if (c.metricsPort === 0) c.metricsPort = bound.metrics!;
  }
  expect(children[2].metricsPort).toBe(taken);
  const clients = children.map((c) => connect(queueV1.QueueServiceClient, `127.0.0.1:${c.port}`));
  const t = tenant();
  try {
    // Up to 60 s per replica: three processes migrating one database start slowly on a loaded
    // 2-core machine (20 s was once not enough); a replica that never answers fails with its output.
    for (const [k, client] of clients.entries())
      for (const start = Date.now(); ; ) {
        try {
          await call(client, 'getQueueStats', { tenantId: t, queue: '' }, { deadlineMs: 500 });
          break;
        } catch (err) {
          if (Date.now() - start > 60_000) throw new Error(`replica ${k} did not answer within 60 s: ${(err as Error).message}\n${children[k].out.join('').slice(-3000)}`);
          await sleep(100);
        }
      }

    // Migrations: each applied once, although three processes started on an empty database.
    const pg = new Client({ connectionString: db.url });
    await pg.connect();
    try {
      const { rows } = await pg.query<{ name: string; n: string }>('select name, count(*) as n from _pm_migrations group by name');
      expect(rows.length).toBe(readMigrations(migrationsDir).length);
      expect(rows.every((r) => r.n === '1')).toBe(true);
    } finally {
      await pg.end();
    }

    // Enqueue through all three, claim through all three at once.
    const ids = new Set<string>();
    for (let from = 0; from < JOBS; from += 50) {
      const jobs = Array.from({ length: 50 }, (_, k) => ({
        queue: 'send',
        task: 'noop',
        payload: undefined,
        payloadJson: Buffer.from(JSON.stringify({ n: from + k })),
        priority: 0,
        maxAttempts: 5,
        idempotencyKey: `k-${from + k}`,
        runAt: undefined,
        ...NO_KEYS,
      }));
      const r = await call(clients[(from / 50) % REPLICAS], 'enqueueJobs', { tenantId: t, jobs });
      for (const x of r.results) ids.add(x.jobId);
    }
    expect(ids.size).toBe(JOBS);
    const claims = new Map<string, number>();
    const claimedVia = new Array<number>(REPLICAS).fill(0);
    const worker = async (w: number) => {
      let previous: queueV1.JobAttempt[] = [];
      let idle = 0;
      while (idle < 3) {
        const res = await call(clients[w % REPLICAS], 'claimJobs', {
          tenantId: t,
          queue: 'send',
          workerId: `w${w}`,
          maxJobs: 20,
          leaseSeconds: 60,
          waitMs: 100,
          lean: true,
          complete: previous,
        });
        for (const j of res.claimed) claims.set(j.id, (claims.get(j.id) ?? 0) + 1);
        claimedVia[w % REPLICAS] += res.claimed.length;
        idle = res.claimed.length ? 0 : idle + 1;
        previous = res.claimed.map((j) => ({ jobId: j.id, attempt: j.attempt, output: undefined, error: '', permanent: false, retryAfterSeconds: 0 }));
      }
    };
    await Promise.all(Array.from({ length: 9 }, (_, w) => worker(w)));
    expect(claims.size).toBe(JOBS);
    expect([...claims.values()].filter((n) => n !== 1)).toEqual([]);

    // Relays: every outbox row published, and the stream holds each event once.
    const outbox = await outboxPublished(db.url);
    expect(outbox).toBeGreaterThan(0); // the queue publishes per batch, not per job
    const jsm = await jetstreamManager(nats.nc);
    const info = await jsm.streams.info(nats.names.stream('queue'));
    expect(info.state.messages).toBe(outbox);

    // An invalid call, counted by its code.
    await expect(call(clients[0], 'getQueueStats', { tenantId: 'not-a-uuid', queue: '' })).rejects.toThrow();

    // /metrics on the two replicas whose port was free.
    const text = await scrape(children[0].metricsPort);
    const svc = 'penguinmails.queue.v1.QueueService';
    expect(value(text, 'grpc_server_handled_total', { grpc_service: svc, grpc_method: 'GetQueueStats', grpc_code: 'InvalidArgument' })).toBe(1);
    expect(value(text, 'grpc_server_handled_total', { grpc_service: svc, grpc_method: 'EnqueueJobs', grpc_code: 'OK' })).toBe(JOBS / 50 / REPLICAS);
    expect(value(text, 'grpc_server_handling_seconds_count', { grpc_method: 'ClaimJobs' })).toBeGreaterThan(0);
    expect(value(text, 'grpc_server_started_total', { grpc_method: 'EnqueueJobs' })).toBe(JOBS / 50 / REPLICAS);
    expect(value(text, 'pm_queue_jobs', { status: 'queued' })).toBe(0);
    expect(value(text, 'pm_queue_oldest_runnable_age_seconds', {})).toBe(0);
    expect(value(text, 'pm_outbox_backlog', {})).toBe(0);
    expect(value(text, 'pm_pg_pool_clients', { state: 'total' })).toBeGreaterThan(0);
    // Jobs per second as counters: what this replica created, leased and saw completed (each
    // worker sticks to one replica and completes its batch in its next claim there).
    expect(value(text, 'pm_queue_jobs_enqueued_total', {})).toBe(JOBS / REPLICAS);
    expect(value(text, 'pm_queue_jobs_claimed_total', {})).toBe(claimedVia[0]);
    expect(value(text, 'pm_queue_jobs_ended_total', { result: 'succeeded' })).toBe(claimedVia[0]);
    expect(text).toContain('process_resident_memory_bytes');
    expect(text).not.toContain(t); // no tenant id in any label
    const published = (await Promise.all([0, 1].map(async (i) => value(await scrape(children[i].metricsPort), 'pm_outbox_published_total', {}) ?? 0))).reduce(
      (a, b) => a + b,
      0,
    );
    expect(published).toBeLessThanOrEqual(outbox);

    // The replica whose METRICS_PORT was taken: one line, and it served its calls above.
    const third = children[2].out.join('');
    expect(third).toContain(`METRICS_PORT ${taken} is in use; serving without /metrics`);
    expect(children[2].proc.exitCode).toBeNull();
  } finally {
    for (const c of clients) c.close();
  }
}, 120_000);
