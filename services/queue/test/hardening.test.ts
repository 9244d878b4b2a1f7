// Hostile input the queue service once answered with INTERNAL, and tenant-bound tokens.
import { randomUUID } from 'node:crypto';
import { status, type ServiceError } from '@grpc/grpc-js';
import { googleProtobuf, queueV1 } from '@penguinmails/contracts';
import { call, connect, decodeStatus } from '@penguinmails/service-kit';
import { callRaw, healthCheck, lenField } from '@penguinmails/testkit';
import { failure, startQueue, type Queue } from './harness';

let q: Queue;
const tenantA = randomUUID();
beforeAll(async () => {
  q = await startQueue({}, { authTokens: ['platform-token', `${tenantA}:tenant-a-token`] });
});
afterAll(() => q.stop());

it('a run_at beyond JavaScript safe integers or in the year 10000 is INVALID_ARGUMENT, and nothing is written', async () => {
  const before = await q.snapshot();
  const huge = googleProtobuf.Timestamp.encode({ seconds: -(2n ** 60n), nanos: 0 }).finish();
  const body = Buffer.concat([lenField(1, Buffer.from(tenantA)), lenField(2, Buffer.from('q')), lenField(3, Buffer.from('t')), lenField(6, huge)]);
  const err = await callRaw(q.address, '/penguinmails.queue.v1.QueueService/EnqueueJob', body, { token: 'platform-token' }).catch((e: ServiceError) => e);
  const st = decodeStatus(err as ServiceError);
  expect([st.code, st.fieldViolations.map((v) => v.field)]).toEqual([status.INVALID_ARGUMENT, ['run_at']]);
  const y10k = await failure(
    call(q.client, 'enqueueJob', queueV1.EnqueueJobRequest.fromPartial({ tenantId: tenantA, queue: 'q', task: 't', runAt: new Date('+010000-01-01T00:00:00Z') })),
  );
  expect(y10k.fieldViolations.map((v) => v.field)).toEqual(['run_at']);
  const nul = await failure(call(q.client, 'enqueueJob', queueV1.EnqueueJobRequest.fromPartial({ tenantId: tenantA, queue: 'q', task: 't', payload: { id: 'x\u0000' } })));
  expect([nul.code, nul.fieldViolations.map((v) => v.field)]).toEqual([status.INVALID_ARGUMENT, ['payload.id']]);
  expect(await q.snapshot()).toEqual(before);
  expect(await healthCheck(q.address)).toBe('SERVING');
});

it('a Struct holding a Value with no kind, or a non-finite number, is INVALID_ARGUMENT (found by the fuzz campaign: INTERNAL from Prisma)', async () => {
  const before = await q.snapshot();
  const { job } = await call(q.client, 'enqueueJob', queueV1.EnqueueJobRequest.fromPartial({ tenantId: tenantA, queue: 'q', task: 'struct' }));
  const after = await q.snapshot();
  for (const [data, field] of [
    [{ list: [undefined, 1] }, 'data.list[0]'],
    [{ n: Number.NaN }, 'data.n'],
    [{ deep: { inf: Number.POSITIVE_INFINITY } }, 'data.deep.inf'],
  ] as const) {
    const st = await failure(call(q.client, 'appendJobLog', queueV1.AppendJobLogRequest.fromPartial({ tenantId: tenantA, jobId: job!.id, message: 'm', data: data as never })));
    expect([st.code, st.fieldViolations.map((v) => v.field)]).toEqual([status.INVALID_ARGUMENT, [field]]);
  }
  const payload = await failure(call(q.client, 'enqueueJob', queueV1.EnqueueJobRequest.fromPartial({ tenantId: tenantA, queue: 'q', task: 't', payload: { ids: [undefined] } as never })));
  expect(payload.fieldViolations.map((v) => v.field)).toEqual(['payload.ids[0]']);
  expect(await q.snapshot()).toEqual(after);
  expect(after).not.toEqual(before);
});

it('a tenant-bound token works its own tenant only: PERMISSION_DENIED and nothing written for another', async () => {
  const a = connect(queueV1.QueueServiceClient, q.address, { token: 'tenant-a-token' });
  const { job } = await call(a, 'enqueueJob', queueV1.EnqueueJobRequest.fromPartial({ tenantId: tenantA, queue: 'q', task: 't' }));
  expect(job!.tenantId).toBe(tenantA);
  const before = await q.snapshot();
  const other = randomUUID();
  for (const p of [
    () => call(a, 'enqueueJob', queueV1.EnqueueJobRequest.fromPartial({ tenantId: other, queue: 'q', task: 't' })),
    () => call(a, 'claimJobs', queueV1.ClaimJobsRequest.fromPartial({ tenantId: other, queue: 'q', workerId: 'w' })),
    () => call(a, 'getJob', queueV1.GetJobRequest.fromPartial({ tenantId: other, jobId: job!.id })),
    // Every tenant at once is the platform's: its group limit default and the list of them.
    () => call(a, 'setGroupLimit', queueV1.SetGroupLimitRequest.fromPartial({ tenantId: '', queue: 'q', limit: 3 })),
    () => call(a, 'listGroupLimits', queueV1.ListGroupLimitsRequest.fromPartial({ tenantId: '' })),
    () => call(a, 'checkLeases', queueV1.CheckLeasesRequest.fromPartial({ tenantId: '', workerId: 'w', jobs: [{ jobId: job!.id, attempt: 1 }] })),
  ]) {
    expect((await failure(p())).code).toBe(status.PERMISSION_DENIED);
  }
  expect(await q.snapshot()).toEqual(before);
  a.close();
});
