import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { queueV1 } from '@penguinmails/contracts';
import { call, connect } from '@penguinmails/service-kit';
import { freshDatabase, listeningPorts, natsTestContext, type FreshDatabase, type NatsTestContext } from '@penguinmails/testkit';
import { Client } from 'pg';
import { MIGRATIONS_DIR as migrationsDir } from '../src/migrations-dir';
import { NO_KEYS, sleep, tenant } from './harness';

// The service process killed with SIGKILL mid-stream (services/queue/dist/main.js as a child
// process, as in production): producers and workers keep calling through the outage, retrying
// what failed; after a restart everything finishes. No acknowledged enqueue is lost, no job is
// enqueued twice (the producer's retries carry idempotency keys), and by the workers' own
// accounting each job is completed exactly once: a completion counts when its reply said DONE,
// or REPEATED for a retry of a call whose reply the kill swallowed.

const MAIN = path.join(__dirname, '..', 'dist', 'main.js');
const JOBS = 1500;
const BATCH = 50;
const { EndOutcome } = queueV1;


let db: FreshDatabase;
let nats: NatsTestContext;
let child: ChildProcess | undefined;
// 0 until the first start binds a port the OS picks (read from its ready line); the restart binds it again.
let port = 0;

function start(): ChildProcess {
  const c = spawn(process.execPath, [MAIN], {
    env: {
      ...process.env,
      DATABASE_URL: db.url,
      GRPC_HOST: '127.0.0.1',
      GRPC_PORT: String(port),
      NATS_URL: nats.url,
      EVENTS_SUBJECT_PREFIX: nats.subjectPrefix,
      EVENTS_STREAM_PREFIX: nats.streamPrefix,
      CLAIM_BATCH_MAX: '100',
      LOG_LEVEL: 'info',
    },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  c.stdout!.resume(); // drained: only the first start's ready line is read (listeningPorts)
  return c;
}

async function startFirst(): Promise<ChildProcess> {
  const c = start();
  port = (await listeningPorts(c)).grpc;
  return c;
}

beforeAll(async () => {
  db = await freshDatabase({ migrationsDir });
  nats = await natsTestContext();
});
afterAll(async () => {
  if (child && child.exitCode === null && child.signalCode === null) {
    child.kill('SIGTERM');
    await new Promise((r) => child!.once('exit', r));
  }
  await nats?.cleanup();
  await db?.drop();
});

(existsSync(MAIN) ? it : it.skip)('kill -9 mid-stream: no acknowledged enqueue lost, each job completed exactly once', async () => {
  const t = tenant();
  const acked = new Set<string>(); // job ids whose EnqueueJobs reply came back
  const completions = new Map<string, number>(); // job id → acknowledged completions
  const errors: string[] = [];
  let stop = false;
  child = await startFirst();
  const client = connect(queueV1.QueueServiceClient, `127.0.0.1:${port}`);
  try {
    const up = async () => {
      for (let i = 0; i < 200; i++) {
        try {
          await call(client, 'getQueueStats', { tenantId: t, queue: '' }, { deadlineMs: 500 });
          return;
        } catch {
          await sleep(100);
        }
      }
      throw new Error('the queue service did not start');
    };
    await up();

    const producer = (async () => {
      for (let from = 0; from < JOBS; from += BATCH) {
        const jobs = Array.from({ length: BATCH }, (_, k) => ({
          queue: 'send',
          task: 'noop',
          payload: undefined,
          payloadJson: Buffer.from(JSON.stringify({ n: from + k })),
          priority: 0,
          maxAttempts: 20,
          idempotencyKey: `k-${from + k}`,
          runAt: undefined,
          ...NO_KEYS,
        }));
        for (;;) {
          try {
            const r = await call(client, 'enqueueJobs', { tenantId: t, jobs }, { deadlineMs: 3000 });
            for (const x of r.results) acked.add(x.jobId);
            break;
          } catch {
            await sleep(50); // the service is down: send the same batch (same keys) again
          }
        }
        await sleep(5);
      }
    })();

    const worker = async (w: string) => {
      let previous: queueV1.JobAttempt[] = [];
      let retrying = false; // `previous` was sent in a call whose reply was lost
      while (!stop) {
        let res: queueV1.ClaimJobsResponse;
        try {
          res = await call(
            client,
            'claimJobs',
            { tenantId: t, queue: 'send', workerId: w, maxJobs: 40, leaseSeconds: 3, waitMs: 200, lean: true, complete: previous },
            { deadlineMs: 3000 },
          );
        } catch {
          retrying = previous.length > 0;
          await sleep(50);
          continue;
        }
        for (const r of res.completed) {
          if (r.outcome === EndOutcome.END_OUTCOME_DONE || (retrying && r.outcome === EndOutcome.END_OUTCOME_REPEATED))
            completions.set(r.jobId, (completions.get(r.jobId) ?? 0) + 1);
          else if (r.outcome !== EndOutcome.END_OUTCOME_LEASE_LOST) errors.push(`${w} ${r.jobId} ${r.outcome} ${r.message}`);
        }
        retrying = false;
        previous = res.claimed.map((j) => ({ jobId: j.id, attempt: j.attempt, output: undefined, error: '', permanent: false, retryAfterSeconds: 0 }));
      }
    };
    const workers = ['w1', 'w2', 'w3'].map(worker);

    // Kill mid-stream: once some jobs are done and the producer is still going.
    for (let i = 0; i < 600 && completions.size < JOBS / 4; i++) await sleep(25);
    expect(acked.size).toBeLessThan(JOBS);
    child.kill('SIGKILL');
    await new Promise((r) => child!.once('exit', r));
    await sleep(300);
    child = start();
    await up();

    await producer;
    for (let i = 0; i < 1200 && [...acked].some((id) => !completions.has(id)); i++) await sleep(50);
    stop = true;
    await Promise.all(workers);

    expect(errors).toEqual([]);
    const pg = new Client({ connectionString: db.url });
    await pg.connect();
    try {
      const { rows } = await pg.query<{ id: string; status: string }>('select id, status from jobs where tenant_id = $1', [t]);
      expect(rows.length).toBe(JOBS); // nothing enqueued twice
      expect(acked.size).toBe(JOBS);
      const inDb = new Map(rows.map((r) => [r.id, r.status]));
      expect([...acked].filter((id) => !inDb.has(id))).toEqual([]); // no acknowledged enqueue lost
      expect(rows.filter((r) => r.status !== 'succeeded')).toEqual([]);
      expect([...acked].filter((id) => completions.get(id) !== 1)).toEqual([]); // each completed exactly once
    } finally {
      await pg.end();
    }
  } finally {
    stop = true;
    client.close();
  }
}, 120_000);
