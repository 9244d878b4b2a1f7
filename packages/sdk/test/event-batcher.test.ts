// The event batcher against the real analytics service (startPlatform: services/analytics/dist
// on its own chDB folder): single events become few IngestEvents calls, each `track` resolves
// once its event is stored, a refused event rejects alone, and a restart of the service loses
// nothing that was awaited.
import { randomUUID } from 'node:crypto';
import { analyticsV1 } from '@penguinmails/contracts';
import { startPlatform, type Platform } from '@penguinmails/testkit';
import { PenguinMailsError, createEventBatcher, createPlatform, type PenguinMails } from '../src';

let platform: Platform;
let pm: PenguinMails;
beforeAll(async () => {
  platform = await startPlatform({ services: ['analytics'] });
  // Each call retried until 60 s have passed, not the default 10 s: the restart test's calls wait
  // out a killed analytics service, whose restart (a fresh process, chDB, migrations) took
  // longer than 9 s under the full suite's load once (fresh-clone CI, 2026-11-28 03:35 UTC).
  pm = createPlatform({ addresses: platform.addresses, deadlineMs: 60_000, retry: { maxAttempts: 1_000, initialBackoffMs: 100, maxBackoffMs: 500 } }, { env: {} });
}, 120_000);
afterAll(async () => {
  pm?.close();
  await platform?.stop();
});

const SENT = analyticsV1.EmailEventType.EMAIL_EVENT_TYPE_SENT;
const sent = (campaignId: string) => ({ eventType: SENT, occurredAt: new Date(), campaignId, emailAccountId: randomUUID(), sequenceStepId: randomUUID(), leadId: randomUUID() });
const sentCount = async (tenantId: string, campaignId: string) => Number((await pm.analytics.getCampaignMetrics({ tenantId, campaignId })).report!.totals!.sent);

/** pm.analytics with its IngestEvents calls counted. */
function counted() {
  const calls: number[] = [];
  const api = Object.create(pm.analytics, {
    ingestEvents: { value: ((req, o) => (calls.push(req?.events?.length ?? 0), pm.analytics.ingestEvents(req, o))) as typeof pm.analytics.ingestEvents },
  }) as typeof pm.analytics;
  return { api, calls };
}

test('1,200 single events of two tenants go as a few calls per tenant; every track resolves once its event is stored', async () => {
  const [a, b] = [randomUUID(), randomUUID()];
  const [ca, cb] = [randomUUID(), randomUUID()];
  const { api, calls } = counted();
  const batcher = createEventBatcher(api, { maxBatch: 500, maxDelayMs: 20 });
  // As a tracking endpoint would: one event per request, all at once.
  await Promise.all(Array.from({ length: 1200 }, (_, i) => (i % 3 === 0 ? batcher.track(b, sent(cb)) : batcher.track(a, sent(ca)))));
  expect(batcher.pending).toBe(0);
  expect(calls.reduce((x, y) => x + y, 0)).toBe(1200);
  expect(calls.length).toBeLessThanOrEqual(6); // 800 of a and 400 of b in batches of ≤ 500
  expect(Math.max(...calls)).toBeLessThanOrEqual(500);
  // Stored when track resolved: counted right away.
  expect(await sentCount(a, ca)).toBe(800);
  expect(await sentCount(b, cb)).toBe(400);
  await batcher.close();
});

test('an event the service refuses rejects alone, naming its field as event.<field>; the rest of its call is stored', async () => {
  const tenantId = randomUUID();
  const campaignId = randomUUID();
  const { api, calls } = counted();
  const batcher = createEventBatcher(api, { maxDelayMs: 50 });
  const good = Array.from({ length: 10 }, () => batcher.track(tenantId, sent(campaignId)));
  const bad = batcher.track(tenantId, { ...sent(campaignId), campaignId: 'not-a-uuid' });
  const results = await Promise.allSettled([...good, bad]);
  expect(results.slice(0, 10).every((r) => r.status === 'fulfilled')).toBe(true);
  const err = (results[10] as PromiseRejectedResult).reason;
  expect(err).toBeInstanceOf(PenguinMailsError);
  expect(err.codeName).toBe('INVALID_ARGUMENT');
  expect(err.fieldViolations.map((v: { field: string }) => v.field)).toEqual(['event.campaign_id']);
  expect(err.message).toMatch(/^event\.campaign_id: /);
  expect(calls).toEqual([11, 10]); // refused whole, then sent again without the bad one
  expect(await sentCount(tenantId, campaignId)).toBe(10);
  await batcher.close();
});

test('a refusal of the whole request (a bad tenant_id) rejects every event of the call', async () => {
  const batcher = createEventBatcher(pm.analytics);
  const campaignId = randomUUID();
  const results = await Promise.allSettled([batcher.track('nope', sent(campaignId)), batcher.track('nope', sent(campaignId))]);
  for (const r of results) {
    expect(r.status).toBe('rejected');
    expect((r as PromiseRejectedResult).reason).toMatchObject({ codeName: 'INVALID_ARGUMENT' });
    expect((r as PromiseRejectedResult).reason.fieldViolations.map((v: { field: string }) => v.field)).toContain('tenant_id');
  }
  await batcher.close();
});

test('flush sends at once what waits for its delay; close refuses further events; an event without an id gets one, so a resend stores it once', async () => {
  const tenantId = randomUUID();
  const campaignId = randomUUID();
  const { api, calls } = counted();
  const batcher = createEventBatcher(api, { maxDelayMs: 60_000 });
  const event = sent(campaignId) as ReturnType<typeof sent> & { eventId?: string };
  const tracked = batcher.track(tenantId, event);
  await new Promise((r) => setTimeout(r, 100));
  expect(calls).toEqual([]); // waiting for its minute
  expect(batcher.pending).toBe(1);
  await batcher.flush();
  await tracked;
  expect(calls).toEqual([1]);
  expect(event.eventId).toMatch(/^[0-9a-f-]{36}$/);
  const again = batcher.track(tenantId, event); // the same object again: the same id
  await batcher.close(); // sends it now, not in a minute
  await again;
  expect(await sentCount(tenantId, campaignId)).toBe(1);
  await expect(batcher.track(tenantId, sent(campaignId))).rejects.toThrow(/closed/);
});

test('events tracked while the service is down are stored once it is back: each track resolves, none is lost or doubled', async () => {
  const tenantId = randomUUID();
  const campaignId = randomUUID();
  const batcher = pm.eventBatcher({ maxDelayMs: 10 });
  await platform.kill('analytics', 'SIGKILL');
  const restarting = new Promise((r) => setTimeout(r, 1_000)).then(() => platform.restart('analytics'));
  const tracked = Promise.all(Array.from({ length: 50 }, () => batcher.track(tenantId, sent(campaignId))));
  await restarting;
  await tracked;
  await batcher.close();
  expect(await sentCount(tenantId, campaignId)).toBe(50);
}, 120_000);

test('options that are not whole numbers in range are refused at once', () => {
  expect(() => createEventBatcher(pm.analytics, { maxBatch: 0 })).toThrow(/maxBatch/);
  expect(() => createEventBatcher(pm.analytics, { maxDelayMs: -1 })).toThrow(/maxDelayMs/);
  expect(() => createEventBatcher(pm.analytics, { inFlight: 1.5 })).toThrow(/inFlight/);
});
