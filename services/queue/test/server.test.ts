import { status as Status } from '@grpc/grpc-js';
import { queueV1 } from '@penguinmails/contracts';
import { ConfigError, call, connect } from '@penguinmails/service-kit';
import { healthCheck, reflectionListServices } from '@penguinmails/testkit';
import { limitsFrom, loadSettings } from '../src/config';
import { failure, NO_KEYS, type Queue, startQueue, tenant } from './harness';

let q: Queue;
beforeAll(async () => {
  q = await startQueue({}, { authTokens: ['queue-test-token'] });
});
afterAll(async () => {
  await q?.stop();
});

it('serves health and reflection without a token, and QueueService only with one', async () => {
  expect(await healthCheck(q.address)).toBe('SERVING');
  expect(await healthCheck(q.address, 'penguinmails.queue.v1.QueueService')).toBe('SERVING');
  expect(await reflectionListServices(q.address)).toContain('penguinmails.queue.v1.QueueService');

  const anonymous = connect(queueV1.QueueServiceClient, q.address);
  const st = await failure(call(anonymous, 'getJob', { tenantId: tenant(), jobId: tenant() }));
  anonymous.close();
  expect(st.code).toBe(Status.UNAUTHENTICATED);
  const ok = await call(q.client, 'enqueueJob', { tenantId: tenant(), queue: 'q', task: 't', priority: 0, maxAttempts: 0, idempotencyKey: '', ...NO_KEYS });
  expect(ok.created).toBe(true);
});

it('reads its settings with defaults and names a bad variable', () => {
  const s = loadSettings({ DATABASE_URL: 'postgres://postgres@127.0.0.1:5432/queue' });
  expect(s.GRPC_PORT).toBe(50053);
  expect(limitsFrom(s)).toMatchObject({ leaseSecondsDefault: 300, claimBatchMax: 1000, batchMax: 1000, claimWaitMaxMs: 30_000, maxAttemptsDefault: 5, payloadMaxBytes: 65536 });
  let err: unknown;
  try {
    loadSettings({ DATABASE_URL: 'mysql://x', CLAIM_BATCH_MAX: '0' });
  } catch (e) {
    err = e;
  }
  expect(err).toBeInstanceOf(ConfigError);
  expect((err as ConfigError).problems.map((p) => p.variable).sort()).toEqual(['CLAIM_BATCH_MAX', 'DATABASE_URL']);
});
