import { status as Status, type ServiceError } from '@grpc/grpc-js';
import { analyticsV1 } from '@penguinmails/contracts';
import { call } from '@penguinmails/service-kit';
import { ServiceFuzzer, fuzzSettings, isBadCode, loadServiceSpec } from '@penguinmails/testkit';
import { freshStore, startServer, storeDigest, uuid, type TestServer, type TestStore } from './harness';

// Hostile input for every RPC of AnalyticsService, generated from the descriptors (see
// packages/testkit/src/fuzz.ts and services/metadata/test/fuzz.test.ts for the invariants).
// "Wrote nothing" is a digest of every ClickHouse table (count and sum of cityHash64 of rows).

const spec = loadServiceSpec('penguinmails.analytics.v1.AnalyticsService');
const settings = fuzzSettings({ runs: 60 });
const order = spec.methods.map((m) => m.name);

let db: TestStore;
let srv: TestServer;
let fuzz: ServiceFuzzer;

beforeAll(async () => {
  db = await freshStore();
  srv = await startServer(db.store);
  const tenants = [uuid(), uuid()];
  const campaigns = [uuid(), uuid()];
  const mailboxes = [uuid(), uuid()];
  const steps = [uuid(), uuid()];
  const T = analyticsV1.EmailEventType;
  const redelivered = [uuid(), uuid(), uuid()];
  for (let i = 0; i < tenants.length; i++) {
    await call(srv.client, 'ingestEvents', {
      durability: 0,
      tenantId: tenants[i],
      events: [T.EMAIL_EVENT_TYPE_SENT, T.EMAIL_EVENT_TYPE_DELIVERED, T.EMAIL_EVENT_TYPE_OPENED].map((eventType) => ({
        eventId: uuid(),
        eventType,
        occurredAt: new Date(Date.now() - 3_600_000),
        campaignId: campaigns[i],
        emailAccountId: mailboxes[i],
        sequenceStepId: steps[i],
        leadId: uuid(),
        messageRefId: uuid(),
        bounceType: 0, variant: '',
      })),
    });
  }
  fuzz = new ServiceFuzzer(spec, {
    address: srv.address,
    settings,
    digest: () => storeDigest(db.store),
    pools: {
      tenant_id: [tenants[0], tenants[0], tenants[1]],
      campaign_id: campaigns,
      email_account_id: mailboxes,
      sequence_step_id: steps,
      // fresh event ids (and some of a few, so redelivered events happen), leads and message refs
      event_id: [...Array.from({ length: 40 }, () => uuid()), ...redelivered],
      lead_id: [uuid(), uuid(), uuid()],
      message_ref_id: [uuid(), uuid(), uuid()],
      variant: ['', 'A', 'B'],
      time_zone: ['UTC', 'Europe/Berlin', 'America/New_York'],
    },
    // Events and ranges of the past week (ingest refuses future events); bounce types mostly
    // unspecified (an event that is not a bounce is refused with one).
    numberPools: {
      seconds: [7, 3, 1, 0.25].map((days) => Math.floor(Date.now() / 3_600_000) * 3_600 - days * 86_400),
      bounce_type: [0, 0, 1],
    },
    // The series is of one campaign, step or mailbox: its plausible requests name just one.
    methodPools: { GetTimeSeries: { pools: { sequence_step_id: [''], email_account_id: [''] } } },
  });
}, 60_000);

afterAll(async () => {
  if (fuzz) {
    process.stdout.write('\n' + fuzz.summary() + '\n');
    fuzz.writeResults('analytics');
    fuzz.close();
  }
  await srv?.close();
  await db?.drop();
});

test('the fuzzed methods are every method of the descriptor and of the server', () => {
  const served = Object.values(analyticsV1.AnalyticsServiceService).map((d) => d.path).sort();
  expect(spec.methods.map((m) => m.path).sort()).toEqual(served);
});

const skipped = (method: string) => Boolean(settings.replay && settings.replay.method !== method);
const timeout = 60_000 + settings.runs * 2 * settings.timeoutMs;
describe.each(order)('fuzz %s', (method) => {
  (skipped(method) ? test.skip : test)('hostile input gets an actionable code, in time, writes nothing when refused, and the server keeps SERVING', async () => {
    await fuzz.fuzzMethod(method);
  }, timeout);
});

/** Every stored event reads back through the metrics RPCs without INTERNAL. */
test('every stored row can be read back through the API', async () => {
  const bad: string[] = [];
  let calls = 0;
  const rows = await (
    await db.store.client.query({
      query: `select distinct toString(tenant_id) as t, toString(campaign_id) as c, toString(email_account_id) as m, toString(sequence_step_id) as s
                from ${db.store.table('events')} limit 500`,
      format: 'JSONEachRow',
    })
  ).json<{ t: string; c: string; m: string; s: string }>();
  /** Runs one read; a bad code (INTERNAL, UNKNOWN, ...) is recorded under `what`. */
  const read = async (what: string, send: () => Promise<unknown>) => {
    calls++;
    try {
      await send();
    } catch (e) {
      const err = e as ServiceError;
      if (isBadCode(err.code)) bad.push(`${what}: ${Status[err.code]} ${err.details}`);
    }
  };
  for (const r of rows) {
    await read(`getCampaignMetrics(${r.t}, ${r.c})`, () => call(srv.client, 'getCampaignMetrics', { tenantId: r.t, campaignId: r.c }));
    await read(`getMailboxMetrics(${r.t}, ${r.m})`, () => call(srv.client, 'getMailboxMetrics', { tenantId: r.t, emailAccountId: r.m }));
    await read(`getSequenceStepMetrics(${r.t}, ${r.s})`, () => call(srv.client, 'getSequenceStepMetrics', { tenantId: r.t, sequenceStepId: r.s }));
  }
  process.stdout.write(`analytics read-back: ${rows.length} id sets, ${calls} calls, ${bad.length} unreadable\n`);
  expect(bad).toEqual([]);
}, 300_000);
