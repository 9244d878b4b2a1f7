// Hostile input the analytics service once answered with INTERNAL, and tenant-bound tokens.
import { randomUUID } from 'node:crypto';
import { status, type ServiceError } from '@grpc/grpc-js';
import { analyticsV1, googleProtobuf } from '@penguinmails/contracts';
import { call, connect, decodeStatus } from '@penguinmails/service-kit';
import { callRaw, healthCheck, lenField } from '@penguinmails/testkit';
import { freshStore, startServer, totalRowCount, uuid, type TestServer, type TestStore } from './harness';

let db: TestStore;
let srv: TestServer;
const tenantA = randomUUID();
beforeAll(async () => {
  db = await freshStore();
  srv = await startServer(db.store, { maxBatch: 100, maxFutureMs: 60_000 }, { authTokens: ['platform-token', `${tenantA}:tenant-a-token`] });
});
afterAll(async () => {
  await srv?.close();
  await db?.drop();
});
const failure = (p: Promise<unknown>) => p.then(() => Promise.reject(new Error('expected a failure')), (e: ServiceError) => decodeStatus(e));

it('time ranges beyond JavaScript safe integers answer INVALID_ARGUMENT naming the field, for all three queries', async () => {
  const huge = googleProtobuf.Timestamp.encode({ seconds: 2n ** 62n, nanos: 0 }).finish();
  for (const method of ['GetCampaignMetrics', 'GetMailboxMetrics', 'GetSequenceStepMetrics']) {
    const body = Buffer.concat([lenField(1, Buffer.from(tenantA)), lenField(2, Buffer.from(uuid())), lenField(3, lenField(2, huge))]);
    const err = await callRaw(srv.address, `/penguinmails.analytics.v1.AnalyticsService/${method}`, body, { token: 'platform-token' }).catch((e: ServiceError) => e);
    const st = decodeStatus(err as ServiceError);
    expect([method, st.code, st.fieldViolations.map((v) => v.field)]).toEqual([method, status.INVALID_ARGUMENT, ['time_range.end']]);
  }
  expect(await healthCheck(srv.address)).toBe('SERVING');
});

it('an event with a NUL or an occurred_at in the year 10000 writes nothing', async () => {
  const c = connect(analyticsV1.AnalyticsServiceClient, srv.address, { token: 'platform-token' });
  const before = await totalRowCount(db.store);
  const event = { eventId: uuid(), eventType: analyticsV1.EmailEventType.EMAIL_EVENT_TYPE_SENT, occurredAt: new Date(), campaignId: uuid() };
  for (const [patch, field] of [
    [{ campaignId: 'a\u0000' }, 'events[0].campaign_id'],
    [{ occurredAt: new Date('+010000-01-01T00:00:00Z') }, 'events[0].occurred_at'],
  ] as const) {
    const st = await failure(call(c, 'ingestEvents', analyticsV1.IngestEventsRequest.fromPartial({ tenantId: tenantA, events: [{ ...event, ...patch }] })));
    expect([st.code, st.fieldViolations.map((v) => v.field)]).toEqual([status.INVALID_ARGUMENT, [field]]);
  }
  expect(await totalRowCount(db.store)).toBe(before);
  c.close();
});

it('a tenant-bound token ingests and reads for its tenant only: PERMISSION_DENIED and nothing written for another', async () => {
  const a = connect(analyticsV1.AnalyticsServiceClient, srv.address, { token: 'tenant-a-token' });
  const event = () => ({ eventId: uuid(), eventType: analyticsV1.EmailEventType.EMAIL_EVENT_TYPE_SENT, occurredAt: new Date(), campaignId: uuid() });
  await expect(call(a, 'ingestEvents', analyticsV1.IngestEventsRequest.fromPartial({ tenantId: tenantA, events: [event()] }))).resolves.toEqual({ acceptedCount: 1 });
  const before = await totalRowCount(db.store);
  const other = randomUUID();
  expect((await failure(call(a, 'ingestEvents', analyticsV1.IngestEventsRequest.fromPartial({ tenantId: other, events: [event()] })))).code).toBe(status.PERMISSION_DENIED);
  expect((await failure(call(a, 'getCampaignMetrics', analyticsV1.GetCampaignMetricsRequest.fromPartial({ tenantId: other, campaignId: uuid() })))).code).toBe(status.PERMISSION_DENIED);
  expect(await totalRowCount(db.store)).toBe(before);
  a.close();
});

it('a time range at the end of what a Timestamp can hold is INVALID_ARGUMENT, not INTERNAL (found by the long fuzz campaign)', async () => {
  const c = connect(analyticsV1.AnalyticsServiceClient, srv.address, { token: 'platform-token' });
  for (const start of [new Date('9999-12-31T23:59:59Z'), new Date('2299-12-31T12:00:00Z'), new Date('1800-01-01T00:00:00Z')]) {
    const st = await failure(call(c, 'getCampaignMetrics', analyticsV1.GetCampaignMetricsRequest.fromPartial({ tenantId: tenantA, campaignId: uuid(), timeRange: { start } })));
    expect([st.code, st.fieldViolations.map((v) => v.field)]).toEqual([status.INVALID_ARGUMENT, ['time_range.start']]);
  }
  await expect(call(c, 'getMailboxMetrics', analyticsV1.GetMailboxMetricsRequest.fromPartial({ tenantId: tenantA, emailAccountId: uuid(), timeRange: { start: new Date('2299-12-29T00:00:00Z') } }))).resolves.toMatchObject({ report: { totals: { sent: 0n } } });
  c.close();
});
