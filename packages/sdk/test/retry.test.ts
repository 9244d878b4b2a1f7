// The SDK's call machinery against in-process fake servers (no stores needed): fromPartial on
// untyped requests, which failures are retried, deadlines, and the errors callers get.
import { Server, ServerCredentials, status, type ServiceError, Metadata } from '@grpc/grpc-js';
import { googleRpc, metadataV1, queueV1 } from '@penguinmails/contracts';
import {
  IDEMPOTENCY,
  PenguinMailsError,
  backoffMs,
  createPlatform,
  isRepeatable,
  settingsFromEnv,
  shouldRetry,
  type PenguinMails,
} from '../src';
import { SERVICE_DEFINITIONS } from '../src/client';

/* eslint-disable @typescript-eslint/no-explicit-any -- a fake server of every RPC: requests and responses of any message type */
type Handler = (request: any) => { error: Partial<ServiceError> } | { response: any } | 'hang';

/** A server answering every RPC of metadata and queue through `handle` (which sees the decoded request). */
async function fakeServer(handle: (method: string, request: any) => ReturnType<Handler>) {
  const server = new Server();
  const calls: { method: string; request: any }[] = [];
  for (const [service, def] of [
    ['metadata', metadataV1.MetadataServiceService],
    ['queue', queueV1.QueueServiceService],
  ] as const) {
    const impl: Record<string, unknown> = {};
    for (const method of Object.keys(def)) {
      impl[method] = (call: { request: unknown }, cb: (err: Partial<ServiceError> | null, res?: unknown) => void) => {
        calls.push({ method: `${service}.${method}`, request: call.request });
        const out = handle(`${service}.${method}`, call.request);
        if (out === 'hang') return;
        if ('error' in out) cb(out.error);
        else cb(null, (out as { response: unknown }).response);
      };
    }
    server.addService(def, impl as never);
  }
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync('127.0.0.1:0', ServerCredentials.createInsecure(), (err, p) => (err ? reject(err) : resolve(p))),
  );
  const address = `127.0.0.1:${port}`;
  return { address, calls, close: () => server.forceShutdown() };
}

const fail = (code: number, message = 'nope') => ({ error: { code, details: message, metadata: new Metadata() } });
const tenantId = '3f1c2b0e-8d4a-4c1e-9b7a-2a6f0c5d9e11';

function platform(address: string, extra: Parameters<typeof createPlatform>[0] = {}): PenguinMails {
  return createPlatform({ addresses: { metadata: address, queue: address }, retry: { initialBackoffMs: 5, maxBackoffMs: 20 }, ...extra }, { env: {} });
}

describe('requests go through fromPartial', () => {
  test('a plain-JS request with missing fields sends proto defaults, not "undefined" or invalid enums', async () => {
    const fake = await fakeServer(() => ({ response: {} }));
    const pm = platform(fake.address);
    try {
      // What a JavaScript caller without types does: leave fields out, or set them to undefined.
      const untyped: Record<string, unknown> = { tenantId, email: 'a@example.com', name: undefined };
      await (pm.metadata.createUser as (r: unknown) => Promise<unknown>)(untyped);
      const sent = fake.calls[0].request as metadataV1.CreateUserRequest;
      expect(sent).toEqual({ tenantId, email: 'a@example.com', name: '', role: 0, status: 0 });
      // Nested messages and repeated fields get their defaults too.
      await (pm.metadata.recordMessage as (r: unknown) => Promise<unknown>)({ tenantId, message: { clientKey: 'k', references: undefined } });
      expect(fake.calls[1].request.message).toMatchObject({ clientKey: 'k', subject: '', direction: 0, references: [] });
    } finally {
      pm.close();
      fake.close();
    }
  });

  test('a value that cannot be encoded is an INVALID_ARGUMENT PenguinMailsError, nothing is sent', async () => {
    const fake = await fakeServer(() => ({ response: {} }));
    const pm = platform(fake.address);
    try {
      const err = await (pm.queue.enqueueJob as (r: unknown) => Promise<unknown>)({ tenantId, priority: 'high' }).catch((e: PenguinMailsError) => e) as PenguinMailsError;
      expect(err).toBeInstanceOf(PenguinMailsError);
      expect(err.codeName).toBe('INVALID_ARGUMENT');
      expect(err.rpc).toBe('queue.enqueueJob');
      expect(fake.calls).toHaveLength(0);
    } finally {
      pm.close();
      fake.close();
    }
  });
});

describe('retries', () => {
  test('a read is retried on UNAVAILABLE until it succeeds', async () => {
    let n = 0;
    const fake = await fakeServer(() => (++n < 3 ? fail(status.UNAVAILABLE) : { response: { campaigns: [] } }));
    const pm = platform(fake.address);
    try {
      await expect(pm.metadata.listCampaigns({ tenantId })).resolves.toEqual({ campaigns: [], page: undefined });
      expect(fake.calls).toHaveLength(3);
    } finally {
      pm.close();
      fake.close();
    }
  });

  test('a create without an idempotency key is never retried', async () => {
    const fake = await fakeServer(() => fail(status.UNAVAILABLE, 'db down'));
    const pm = platform(fake.address);
    try {
      const err = await pm.metadata.createCampaign({ tenantId, name: 'x' }).catch((e) => e);
      expect(err).toMatchObject({ codeName: 'UNAVAILABLE', attempts: 1, message: 'db down', rpc: 'metadata.createCampaign' });
      expect(fake.calls).toHaveLength(1);
    } finally {
      pm.close();
      fake.close();
    }
  });

  test('a keyed write is retried on UNAVAILABLE and ABORTED only with its key', async () => {
    let n = 0;
    const fake = await fakeServer(() => (++n % 2 === 1 ? fail(n === 1 ? status.UNAVAILABLE : status.ABORTED) : { response: { created: true, outcome: 1 } }));
    const pm = platform(fake.address);
    try {
      await pm.queue.enqueueJob({ tenantId, queue: 'send', task: 't', idempotencyKey: 'k1' });
      expect(fake.calls).toHaveLength(2);
      n = 2; // next answer: ABORTED
      await pm.queue.enqueueJob({ tenantId, queue: 'send', task: 't', idempotencyKey: 'k2' });
      expect(fake.calls).toHaveLength(4);
      n = 0; // next answer: UNAVAILABLE
      const err = await pm.queue.enqueueJob({ tenantId, queue: 'send', task: 't' }).catch((e) => e);
      expect(err).toMatchObject({ codeName: 'UNAVAILABLE', attempts: 1 });
      expect(fake.calls).toHaveLength(5);
    } finally {
      pm.close();
      fake.close();
    }
  });

  test('RESOURCE_EXHAUSTED is never retried, not even for a read', async () => {
    const fake = await fakeServer(() => fail(status.RESOURCE_EXHAUSTED, 'too big'));
    const pm = platform(fake.address);
    try {
      const err = await pm.metadata.getTenant({ tenantId }).catch((e) => e);
      expect(err).toMatchObject({ codeName: 'RESOURCE_EXHAUSTED', attempts: 1 });
      expect(fake.calls).toHaveLength(1);
    } finally {
      pm.close();
      fake.close();
    }
  });

  test('retries stop at maxAttempts and at the deadline', async () => {
    const fake = await fakeServer(() => fail(status.UNAVAILABLE));
    const pm = platform(fake.address, { retry: { maxAttempts: 3, initialBackoffMs: 1, maxBackoffMs: 2 } });
    try {
      expect(await pm.metadata.getTenant({ tenantId }).catch((e) => e)).toMatchObject({ attempts: 3 });
      const started = Date.now();
      const err = await pm.metadata.getTenant({ tenantId }, { deadlineMs: 300, retry: { maxAttempts: 1000, initialBackoffMs: 50, maxBackoffMs: 50 } }).catch((e) => e);
      expect(['UNAVAILABLE', 'DEADLINE_EXCEEDED']).toContain(err.codeName);
      expect(Date.now() - started).toBeLessThan(1_000);
    } finally {
      pm.close();
      fake.close();
    }
  });

  test('a call that gets no answer fails with DEADLINE_EXCEEDED at its deadline', async () => {
    const fake = await fakeServer(() => 'hang');
    const pm = platform(fake.address);
    try {
      const started = Date.now();
      const err = await pm.metadata.getTenant({ tenantId }, { deadlineMs: 200 }).catch((e) => e);
      expect(err).toBeInstanceOf(PenguinMailsError);
      expect(err.codeName).toBe('DEADLINE_EXCEEDED');
      expect(Date.now() - started).toBeLessThan(2_000);
    } finally {
      pm.close();
      fake.close();
    }
  });

  test('the idempotency table classifies every RPC of the four services', () => {
    const missing: string[] = [];
    for (const [service, { definition }] of Object.entries(SERVICE_DEFINITIONS)) {
      for (const method of Object.keys(definition)) if (!IDEMPOTENCY[`${service}.${method}`]) missing.push(`${service}.${method}`);
    }
    expect(missing).toEqual([]);
    expect(isRepeatable('metadata', 'createUser', {})).toBe(false);
    expect(isRepeatable('metadata', 'recordMessage', { message: { clientKey: 'k' } })).toBe(true);
    expect(isRepeatable('metadata', 'recordMessage', { message: { clientKey: '', providerMessageId: '' } })).toBe(false);
    expect(shouldRetry(status.RESOURCE_EXHAUSTED, 'metadata', 'getTenant', {})).toBe(false);
    expect(shouldRetry(status.INVALID_ARGUMENT, 'metadata', 'getTenant', {})).toBe(false);
  });

  test('backoff: full jitter under an exponential cap', () => {
    const policy = { maxAttempts: 5, initialBackoffMs: 100, maxBackoffMs: 1000, multiplier: 2 };
    expect(backoffMs(1, policy, () => 0.999)).toBe(99);
    expect(backoffMs(3, policy, () => 0.5)).toBe(200);
    expect(backoffMs(10, policy, () => 0.999)).toBe(999);
    expect(backoffMs(2, policy, () => 0)).toBe(0);
  });
});

describe('errors', () => {
  test('the google.rpc.Status trailer becomes fieldViolations, reason, domain and resource', async () => {
    const st = googleRpc.Status.encode({
      code: status.INVALID_ARGUMENT,
      message: 'tenant_id: must be a UUID',
      details: [
        { typeUrl: 'type.googleapis.com/google.rpc.ErrorInfo', value: Buffer.from(googleRpc.ErrorInfo.encode({ reason: 'INVALID_ARGUMENT', domain: 'penguinmails.metadata', metadata: { requestId: 'r-1' } }).finish()) },
        { typeUrl: 'type.googleapis.com/google.rpc.BadRequest', value: Buffer.from(googleRpc.BadRequest.encode({ fieldViolations: [{ field: 'tenant_id', description: 'must be a UUID', reason: 'NOT_A_UUID' }] }).finish()) },
      ],
    }).finish();
    const md = new Metadata();
    md.set('grpc-status-details-bin', Buffer.from(st));
    const fake = await fakeServer(() => ({ error: { code: status.INVALID_ARGUMENT, details: 'tenant_id: must be a UUID', metadata: md } }));
    const pm = platform(fake.address);
    try {
      const err = await pm.metadata.getTenant({ tenantId: 'nope' }).catch((e) => e);
      expect(err).toBeInstanceOf(PenguinMailsError);
      expect(err).toMatchObject({
        code: status.INVALID_ARGUMENT,
        codeName: 'INVALID_ARGUMENT',
        message: 'tenant_id: must be a UUID',
        reason: 'INVALID_ARGUMENT',
        domain: 'penguinmails.metadata',
        requestId: 'r-1',
        fieldViolations: [{ field: 'tenant_id', description: 'must be a UUID', reason: 'NOT_A_UUID' }],
      });
      expect(err.describe()).toBe('INVALID_ARGUMENT: tenant_id: must be a UUID');
    } finally {
      pm.close();
      fake.close();
    }
  });

  test('nothing listening: UNAVAILABLE, after the retries a read is allowed', async () => {
    const pm = platform('127.0.0.1:1', { retry: { maxAttempts: 2, initialBackoffMs: 1, maxBackoffMs: 1 } });
    try {
      const err = await pm.metadata.getTenant({ tenantId }).catch((e) => e);
      expect(err).toMatchObject({ codeName: 'UNAVAILABLE', attempts: 2 });
      const health = await pm.health(['metadata']);
      expect(health[0]).toMatchObject({ service: 'metadata', status: 'UNAVAILABLE' });
    } finally {
      pm.close();
    }
  });
});

describe('settings', () => {
  test('from the environment', () => {
    expect(
      settingsFromEnv({ PM_METADATA_URL: 'grpc://meta.internal:7000', PM_QUEUE_PORT: '6000', PM_TOKEN: 't', PM_DEADLINE_MS: '2500', PM_RETRY_MAX_ATTEMPTS: '1' }),
    ).toEqual({ addresses: { metadata: 'meta.internal:7000', queue: '127.0.0.1:6000' }, token: 't', deadlineMs: 2500, retry: { maxAttempts: 1 } });
    expect(() => settingsFromEnv({ PM_CONTENT_URL: 'not an address' })).toThrow('PM_CONTENT_URL must be host:port');
    const pm = createPlatform({ addresses: { analytics: 'localhost:1234' } }, { env: { PM_METADATA_URL: 'localhost:9' } });
    expect(pm.settings.addresses).toEqual({ metadata: 'localhost:9', content: '127.0.0.1:50052', queue: '127.0.0.1:50053', analytics: 'localhost:1234' });
    expect(pm.settings.deadlineMs).toBe(10_000);
    pm.close();
  });
});
