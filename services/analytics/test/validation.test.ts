import { status, type ServiceError } from '@grpc/grpc-js';
import { analyticsV1, type commonV1 } from '@penguinmails/contracts';
import { call, decodeStatus } from '@penguinmails/service-kit';
import { freshStore, rawRowCount, startServer, totalRowCount, uuid, type TestServer, type TestStore } from './harness';

const T = analyticsV1.EmailEventType;
const MAX_BATCH = 5;

let db: TestStore;
let srv: TestServer;

beforeAll(async () => {
  db = await freshStore();
  srv = await startServer(db.store, { maxBatch: MAX_BATCH, maxFutureMs: 60_000 });
});
afterAll(async () => {
  await srv?.close();
  await db?.drop();
});

const good = (): analyticsV1.EmailEvent => ({
  eventId: uuid(),
  eventType: T.EMAIL_EVENT_TYPE_SENT,
  occurredAt: new Date(Date.UTC(2025, 2, 1, 12)),
  campaignId: uuid(),
  emailAccountId: uuid(),
  sequenceStepId: '',
  leadId: '',
  messageRefId: '',
  bounceType: 0, variant: '',
});

/** Calls, expects INVALID_ARGUMENT, returns the violated field names. */
async function rejected(p: Promise<unknown>): Promise<string[]> {
  const err = await p.then(
    () => {
      throw new Error('expected INVALID_ARGUMENT, the call succeeded');
    },
    (e: ServiceError) => e,
  );
  const decoded = decodeStatus(err);
  expect(decoded.code).toBe(status.INVALID_ARGUMENT);
  return decoded.fieldViolations.map((v) => v.field);
}

describe('IngestEvents rejects bad input and writes nothing', () => {
  it.each([
    ['a non-UUID event id', (e: analyticsV1.EmailEvent) => ({ ...e, eventId: 'evt-1' }), 'events[1].event_id'],
    ['the nil UUID as event id', (e: analyticsV1.EmailEvent) => ({ ...e, eventId: '00000000-0000-0000-0000-000000000000' }), 'events[1].event_id'],
    ['an unknown event type', (e: analyticsV1.EmailEvent) => ({ ...e, eventType: 99 as analyticsV1.EmailEventType }), 'events[1].event_type'],
    ['a missing event type', (e: analyticsV1.EmailEvent) => ({ ...e, eventType: T.EMAIL_EVENT_TYPE_UNSPECIFIED }), 'events[1].event_type'],
    ['a missing timestamp', (e: analyticsV1.EmailEvent) => ({ ...e, occurredAt: undefined }), 'events[1].occurred_at'],
    ['a timestamp in the future', (e: analyticsV1.EmailEvent) => ({ ...e, occurredAt: new Date(Date.now() + 3_600_000) }), 'events[1].occurred_at'],
    ['a timestamp before 2000', (e: analyticsV1.EmailEvent) => ({ ...e, occurredAt: new Date(Date.UTC(1999, 11, 31)) }), 'events[1].occurred_at'],
    ['a non-UUID campaign id', (e: analyticsV1.EmailEvent) => ({ ...e, campaignId: 'campaign-7' }), 'events[1].campaign_id'],
    ['a step without its campaign', (e: analyticsV1.EmailEvent) => ({ ...e, campaignId: '', sequenceStepId: uuid() }), 'events[1].campaign_id'],
    ['a missing event id', (e: analyticsV1.EmailEvent) => ({ ...e, eventId: '' }), 'events[1].event_id'],
    ['a non-UUID mailbox id', (e: analyticsV1.EmailEvent) => ({ ...e, emailAccountId: 'sales@acme' }), 'events[1].email_account_id'],
    ['a non-UUID sequence step id', (e: analyticsV1.EmailEvent) => ({ ...e, sequenceStepId: 'step-2' }), 'events[1].sequence_step_id'],
    ['a non-UUID lead id', (e: analyticsV1.EmailEvent) => ({ ...e, leadId: 'lead-9' }), 'events[1].lead_id'],
    ['a non-UUID message ref id', (e: analyticsV1.EmailEvent) => ({ ...e, messageRefId: '<abc@mail>' }), 'events[1].message_ref_id'],
  ])('%s', async (_name, spoil, field) => {
    const tenantId = uuid();
    // One good event before the bad one: the batch is all or nothing.
    const fields = await rejected(call(srv.client, 'ingestEvents', { durability: 0, tenantId, events: [good(), spoil(good())] }));
    expect(fields).toEqual([field]);
    expect(await rawRowCount(db.store, tenantId)).toBe(0);
  });

  it.each([
    ['a bad tenant id', 'acme'],
    ['a missing tenant id', ''],
  ])('%s (nothing written for any tenant)', async (_name, tenantId) => {
    const before = await totalRowCount(db.store);
    expect(await rejected(call(srv.client, 'ingestEvents', { durability: 0, tenantId, events: [good()] }))).toEqual(['tenant_id']);
    expect(await totalRowCount(db.store)).toBe(before);
  });

  it('an empty batch', async () => {
    expect(await rejected(call(srv.client, 'ingestEvents', { durability: 0, tenantId: uuid(), events: [] }))).toEqual(['events']);
  });

  it('too many events in one batch', async () => {
    const tenantId = uuid();
    const events = Array.from({ length: MAX_BATCH + 1 }, good);
    const err = await call(srv.client, 'ingestEvents', { durability: 0, tenantId, events }).catch((e: ServiceError) => e);
    const decoded = decodeStatus(err as ServiceError);
    expect(decoded.code).toBe(status.INVALID_ARGUMENT);
    expect(decoded.fieldViolations).toEqual([expect.objectContaining({ field: 'events', reason: 'OUT_OF_RANGE' })]);
    expect(decoded.fieldViolations[0].description).toContain(`at most ${MAX_BATCH}`);
    expect(await rawRowCount(db.store, tenantId)).toBe(0);
  });

  it('names every wrong field at once', async () => {
    const tenantId = uuid();
    const fields = await rejected(
      call(srv.client, 'ingestEvents', {
        durability: 0,
        tenantId,
        events: [{ ...good(), eventId: 'x' }, good(), { ...good(), eventType: 42 as analyticsV1.EmailEventType, leadId: 'nope' }],
      }),
    );
    expect(fields.sort()).toEqual(['events[0].event_id', 'events[2].event_type', 'events[2].lead_id']);
    expect(await rawRowCount(db.store, tenantId)).toBe(0);
  });
});

describe('Get*Metrics rejects bad input', () => {
  it('an inverted time range', async () => {
    const start = new Date(Date.UTC(2025, 0, 2));
    const end = new Date(Date.UTC(2025, 0, 1));
    expect(
      await rejected(call(srv.client, 'getCampaignMetrics', { tenantId: uuid(), campaignId: uuid(), timeRange: { start, end } })),
    ).toEqual(['time_range.end']);
    // An empty range (end == start) is as useless.
    expect(
      await rejected(call(srv.client, 'getMailboxMetrics', { tenantId: uuid(), emailAccountId: uuid(), timeRange: { start, end: start } })),
    ).toEqual(['time_range.end']);
  });

  it('bad ids, named with the field of each RPC', async () => {
    expect(await rejected(call(srv.client, 'getCampaignMetrics', { tenantId: 'x', campaignId: '' }))).toEqual(['tenant_id', 'campaign_id']);
    expect(await rejected(call(srv.client, 'getMailboxMetrics', { tenantId: uuid(), emailAccountId: 'mbox' }))).toEqual(['email_account_id']);
    expect(
      await rejected(call(srv.client, 'getSequenceStepMetrics', { tenantId: uuid(), sequenceStepId: '00000000-0000-0000-0000-000000000000' })),
    ).toEqual(['sequence_step_id']);
  });
});

describe('every Get*Metrics RPC validates each of its fields', () => {
  /** The fields the three requests share, the id under one name. */
  type MetricsRequest = { tenantId: string; id: string; timeRange?: commonV1.TimeRange };
  const rpcs: [string, string, (r: MetricsRequest) => Promise<unknown>][] = [
    ['getCampaignMetrics', 'campaign_id', (r) => call(srv.client, 'getCampaignMetrics', { tenantId: r.tenantId, campaignId: r.id, timeRange: r.timeRange })],
    ['getMailboxMetrics', 'email_account_id', (r) => call(srv.client, 'getMailboxMetrics', { tenantId: r.tenantId, emailAccountId: r.id, timeRange: r.timeRange })],
    [
      'getSequenceStepMetrics',
      'sequence_step_id',
      (r) => call(srv.client, 'getSequenceStepMetrics', { tenantId: r.tenantId, sequenceStepId: r.id, timeRange: r.timeRange }),
    ],
  ];
  const day = (d: number) => new Date(Date.UTC(2025, 0, d));
  const spoilers: [string, Partial<MetricsRequest>, (idField: string) => string][] = [
    ['a malformed tenant id', { tenantId: 'acme' }, () => 'tenant_id'],
    ['a missing tenant id', { tenantId: '' }, () => 'tenant_id'],
    ['a missing id', { id: '' }, (f) => f],
    ['a malformed id', { id: 'id-7' }, (f) => f],
    ['the nil UUID as id', { id: '00000000-0000-0000-0000-000000000000' }, (f) => f],
    ['an inverted time range', { timeRange: { start: day(2), end: day(1) } }, () => 'time_range.end'],
    ['an empty time range', { timeRange: { start: day(2), end: day(2) } }, () => 'time_range.end'],
  ];
  const cases = rpcs.flatMap(([rpc, field, send]) =>
    spoilers.map(([what, spoil, expected]) => [rpc, what, { id: uuid(), ...spoil }, expected(field), send] as const),
  );
  it.each(cases)('%s: %s', async (_rpc, _what, patch, field, send) => {
    const before = await totalRowCount(db.store);
    const req: MetricsRequest = { tenantId: uuid(), timeRange: undefined, ...patch };
    expect(await rejected(send(req))).toEqual([field]);
    expect(await totalRowCount(db.store)).toBe(before);
  });
});
