// Jobs, the send-job worker and retries across a killed and restarted service, against the real
// queue service (startPlatform runs services/queue/dist/main.js with a fresh database).
import { randomUUID } from 'node:crypto';
import { queueV1 } from '@penguinmails/contracts';
import { startPlatform, type Platform } from '@penguinmails/testkit';
import { JobFailure, PenguinMailsError, createPlatform, type PenguinMails } from '../src';

let platform: Platform;
let pm: PenguinMails;
beforeAll(async () => {
  platform = await startPlatform({ services: ['queue'] });
  // Retries bounded by each call's deadline, not a count: a restart under load (a fresh process,
  // migrations) took longer than 30 jittered attempts of at most 500 ms once.
  pm = createPlatform({ addresses: platform.addresses, retry: { maxAttempts: 200, initialBackoffMs: 100, maxBackoffMs: 500 } }, { env: {} });
});
afterAll(async () => {
  pm?.close();
  await platform?.stop();
});

test('enqueue (keyed: the same key is the same job) and list', async () => {
  const tenantId = randomUUID();
  const a = await pm.queue.enqueueJob({ tenantId, queue: 'send', task: 'campaign.send_step', payload: { leadId: 'l1' }, idempotencyKey: 'k1' });
  const b = await pm.queue.enqueueJob({ tenantId, queue: 'send', task: 'campaign.send_step', payload: { leadId: 'l1' }, idempotencyKey: 'k1' });
  expect(a.created).toBe(true);
  expect(b).toMatchObject({ created: false, job: { id: a.job!.id } });
  const { jobs } = await pm.queue.listJobs({ tenantId, queue: 'send' });
  expect(jobs.map((j) => j.id)).toEqual([a.job!.id]);
});

test('errors: a bad id is a PenguinMailsError naming the field; another tenant\'s job is NOT_FOUND', async () => {
  const err = await pm.queue.listJobs({ tenantId: 'nope' }).catch((e) => e);
  expect(err).toBeInstanceOf(PenguinMailsError);
  expect(err.codeName).toBe('INVALID_ARGUMENT');
  expect(err.fieldViolations.map((v: { field: string }) => v.field)).toContain('tenant_id');
  const nf = await pm.queue.getJob({ tenantId: randomUUID(), jobId: randomUUID() }).catch((e) => e);
  expect(nf).toMatchObject({ codeName: 'NOT_FOUND', rpc: 'queue.getJob' });
});

test('processSendJobs claims, runs and completes or fails each job, and stops gracefully', async () => {
  const tenantId = randomUUID();
  const ids: string[] = [];
  for (const kind of ['ok', 'ok', 'permanent', 'retry']) {
    const { job } = await pm.queue.enqueueJob({ tenantId, queue: 'send', task: 'send', payload: { kind }, idempotencyKey: randomUUID(), maxAttempts: 3 });
    ids.push(job!.id);
  }
  const seen: string[] = [];
  const worker = pm.processSendJobs({ tenantId, queue: 'send', batchSize: 2, pollIntervalMs: 50 }, async (job, ctx) => {
    seen.push(job.id);
    await ctx.log(`handling ${job.payload?.kind}`);
    if (job.payload?.kind === 'permanent') throw new JobFailure('no such lead', { permanent: true });
    if (job.payload?.kind === 'retry') throw new Error('smtp timeout');
  });
  for (let i = 0; i < 100 && worker.stats.succeeded + worker.stats.failed < 4; i++) await new Promise((r) => setTimeout(r, 50));
  const stats = await worker.stop({ timeoutMs: 5_000 });
  expect(stats).toMatchObject({ claimed: 4, succeeded: 2, failed: 2, errors: 0 });
  expect(new Set(seen)).toEqual(new Set(ids));
  const statuses = await Promise.all(ids.map(async (jobId) => (await pm.queue.getJob({ tenantId, jobId })).job!));
  expect(statuses.map((j) => j.status)).toEqual([
    queueV1.JobStatus.JOB_STATUS_SUCCEEDED,
    queueV1.JobStatus.JOB_STATUS_SUCCEEDED,
    queueV1.JobStatus.JOB_STATUS_DEAD,
    queueV1.JobStatus.JOB_STATUS_FAILED,
  ]);
  expect(statuses[3].lastError).toBe('smtp timeout');
  const { logs } = await pm.queue.listJobLogs({ tenantId, jobId: ids[0] });
  expect(logs.map((l) => l.message)).toContain('handling ok');
});

test('a read and a keyed enqueue survive the service being killed and restarted (UNAVAILABLE is retried)', async () => {
  const tenantId = randomUUID();
  await platform.kill('queue', 'SIGKILL');
  const restarting = new Promise((r) => setTimeout(r, 800)).then(() => platform.restart('queue'));
  const [list, enq] = await Promise.all([
    pm.queue.listJobs({ tenantId: randomUUID() }, { deadlineMs: 30_000 }), // another tenant: the enqueue below may land first
    pm.queue.enqueueJob({ tenantId, queue: 'send', task: 't', idempotencyKey: 'after-restart' }, { deadlineMs: 30_000 }),
  ]);
  await restarting;
  expect(list.jobs).toEqual([]);
  expect(enq.created).toBe(true);
});

test('a write without a key is not retried: it fails with UNAVAILABLE while the service is down', async () => {
  const tenantId = randomUUID();
  const { job } = await pm.queue.enqueueJob({ tenantId, queue: 'send', task: 't', idempotencyKey: 'x' });
  await platform.kill('queue', 'SIGKILL');
  try {
    const noKey = await pm.queue.enqueueJob({ tenantId, queue: 'send', task: 't' }).catch((e) => e);
    expect(noKey).toMatchObject({ codeName: 'UNAVAILABLE', attempts: 1 });
    const log = await pm.queue.appendJobLog({ tenantId, jobId: job!.id, message: 'm' }).catch((e) => e);
    expect(log).toMatchObject({ codeName: 'UNAVAILABLE', attempts: 1 });
  } finally {
    await platform.restart('queue');
  }
  // Nothing was written by the failed calls.
  const { jobs } = await pm.queue.listJobs({ tenantId });
  expect(jobs).toHaveLength(1);
});
