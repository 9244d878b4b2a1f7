/**
 * `pnpm --filter @penguinmails/bench run bench:analytics [--events 1000000] [--reps 100] [--inflight 4] [--js-events 100000]`
 *
 * The analytics tier (issue 10) against PostgreSQL over the same events, in one run:
 *  1. ingest into chDB with the rollups' materialized views on, events/s: the first half of the
 *     events through gRPC IngestEvents (batches of 1,000, --inflight calls in flight), the second
 *     half straight into the service's writer in blocks of 20,000 (the store's own rate);
 *  2. ingest from JetStream: --js-events MessageRecorded events published to a private stream,
 *     then the service's consumer (batches of 5,000, the service's default) drains it into the tables: events/s;
 *  3. every question RPC through gRPC, p50/p99 over --reps calls, next to the same question
 *     as SQL on a plain PostgreSQL table (b-tree indexes, primary key (tenant_id, event_id) for
 *     dedup) in its own database on 127.0.0.1:5432, with the ratio PG / ClickHouse.
 * Printed, never asserted. The gRPC server, chDB and the client share this process (2 cores).
 */
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { analyticsV1, commonV1, metadataV1 } from '@penguinmails/contracts';
import { EventNames, Validator, buildEnvelope, call, connect, connectNats, createLogger, ensureStream } from '@penguinmails/service-kit';
import { mulberry32 } from '@penguinmails/testkit';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { Client } from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import { createBenchDatabase } from './lib/pg';
import { intArg, parseArgs, percentile, table, type Args } from './lib/report';

// The analytics service is not a dependency of this package (it would pull chDB into every
// bench install); its sources are loaded from the workspace at run time (tsx).
const ANALYTICS = join(__dirname, '..', '..', 'services', 'analytics', 'src');
/* eslint-disable @typescript-eslint/no-require-imports */
const load = (m: string) => require(join(ANALYTICS, m));

export interface AnalyticsOptions {
  events: number;
  reps: number;
  inflight: number;
  jsEvents: number;
  /** --grpc-events N: how many of the events go through gRPC IngestEvents (default half; the rest through the writer). */
  grpcEvents?: number;
}

export function analyticsOptions(args: Args): AnalyticsOptions {
  const quick = args.flags.has('quick');
  return {
    events: intArg(args, 'events', quick ? 100_000 : 1_000_000, 1_000, 20_000_000),
    reps: intArg(args, 'reps', quick ? 20 : 100, 5, 10_000),
    inflight: intArg(args, 'inflight', 4, 1, 64),
    jsEvents: intArg(args, 'js-events', quick ? 10_000 : 100_000, 0, 5_000_000),
    grpcEvents: args.values.has('grpc-events') ? intArg(args, 'grpc-events', 0, 0, 20_000_000) : undefined,
  };
}

const T = analyticsV1.EmailEventType;
const TYPE_NAME: Record<number, string> = { 1: 'sent', 2: 'delivered', 3: 'opened', 4: 'clicked', 5: 'replied', 6: 'bounced', 9: 'auto_replied' };
const DAY = 86_400_000;

interface World {
  tenantId: string;
  campaigns: string[];
  steps: string[][];
  mailboxes: string[];
  events: analyticsV1.EmailEvent[];
  now: number;
}

/**
 * One tenant: 40 campaigns × 4 steps (variants A/B), 200 mailboxes, 30 days ending now. Per
 * message: sent; delivered 95 %; 0-3 opens (45 % open); a click 10 %; a reply 5 % (0.5-48 h
 * later); a bounce 3 % (a third soft); an auto reply 1 %. About 2.5 events per message.
 */
/**
 * The events as the service's writer takes them, mapped by the service's own IngestEvents
 * validation (rpc/validate.ts ingestBatch): the rows a gRPC call would hand the writer. Throws
 * if one is invalid (the generator makes none).
 */
export function ingestRows(events: analyticsV1.EmailEvent[]): unknown[] {
  const v = new Validator();
  const rows = load('rpc/validate').ingestBatch(v, events, { maxBatch: events.length, maxFutureMs: DAY });
  v.done();
  return rows;
}

export function generate(n: number): World {
  const r = mulberry32(20_251_126); // the data set is the same for both stores
  const now = Date.now() - 60_000;
  const tenantId = randomUUID();
  const campaigns = Array.from({ length: 40 }, () => randomUUID());
  const steps = campaigns.map(() => Array.from({ length: 4 }, () => randomUUID()));
  const mailboxes = Array.from({ length: 200 }, () => randomUUID());
  const events: analyticsV1.EmailEvent[] = [];
  while (events.length < n) {
    const c = Math.floor(r() * campaigns.length);
    const s = Math.min(3, Math.floor(-Math.log(1 - r()) * 1.2)); // later steps send less
    const m = mailboxes[Math.floor(r() * mailboxes.length)];
    const msg = randomUUID();
    const sentAt = now - Math.floor(r() * 30 * DAY);
    const variant = r() < 0.5 ? 'A' : 'B';
    const ev = (type: analyticsV1.EmailEventType, at: number, extra: Partial<analyticsV1.EmailEvent> = {}) =>
      events.push({
        eventId: randomUUID(),
        eventType: type,
        occurredAt: new Date(Math.min(at, now)),
        campaignId: campaigns[c],
        emailAccountId: m,
        sequenceStepId: steps[c][s],
        leadId: '',
        messageRefId: msg,
        bounceType: 0,
        variant: '',
        ...extra,
      });
    ev(T.EMAIL_EVENT_TYPE_SENT, sentAt, { variant });
    if (r() < 0.03) {
      ev(T.EMAIL_EVENT_TYPE_BOUNCED, sentAt + 60_000, { bounceType: r() < 0.33 ? commonV1.BounceType.BOUNCE_TYPE_SOFT : commonV1.BounceType.BOUNCE_TYPE_HARD });
      continue;
    }
    if (r() < 0.95) ev(T.EMAIL_EVENT_TYPE_DELIVERED, sentAt + 5_000);
    if (r() < 0.45) for (let k = 0, opens = 1 + Math.floor(r() * 3); k < opens; k++) ev(T.EMAIL_EVENT_TYPE_OPENED, sentAt + Math.floor(r() * DAY));
    if (r() < 0.1) ev(T.EMAIL_EVENT_TYPE_CLICKED, sentAt + Math.floor(r() * DAY));
    if (r() < 0.05) ev(T.EMAIL_EVENT_TYPE_REPLIED, sentAt + 1_800_000 + Math.floor(r() * 2 * DAY));
    else if (r() < 0.01) ev(T.EMAIL_EVENT_TYPE_AUTO_REPLIED, sentAt + 600_000);
  }
  events.length = n;
  return { tenantId, campaigns, steps, mailboxes, events, now };
}

async function timeIt(reps: number, fn: (i: number) => Promise<unknown>): Promise<{ p50: number; p99: number }> {
  for (let i = 0; i < Math.min(5, reps); i++) await fn(i); // warm-up
  const t: number[] = [];
  for (let i = 0; i < reps; i++) {
    const s = performance.now();
    await fn(i);
    t.push(performance.now() - s);
  }
  return { p50: percentile(t, 50), p99: percentile(t, 99) };
}

const f1 = (v: number) => (v < 10 ? v.toFixed(2) : v.toFixed(1));

export async function runAnalytics(o: AnalyticsOptions): Promise<string> {
  const lines: string[] = [];
  const say = (s: string) => {
    process.stdout.write(s + '\n');
    lines.push(s);
  };
  say(`analytics bench: ${o.events.toLocaleString()} events, ${o.reps} calls per query, ${o.inflight} IngestEvents in flight, ${o.jsEvents.toLocaleString()} JetStream events`);
  const gen0 = performance.now();
  const w = generate(o.events);
  say(`generated in ${((performance.now() - gen0) / 1000).toFixed(1)} s`);

  // --- ClickHouse (chDB in this process) behind the real gRPC server ---
  const { createStore } = load('db/client');
  const { migrateClickHouse } = load('db/migrate');
  const { createServer } = load('server');
  const { metadataEventsConsumer } = load('consumers/metadata-events');
  const chdbDir = mkdtempSync(join(tmpdir(), 'pm-bench-chdb-'));
  const store = createStore({ kind: 'chdb', path: chdbDir }, 'bench_analytics');
  await migrateClickHouse({ store });
  const logger = createLogger({ service: 'bench-analytics', level: 'silent' });
  const server = createServer({ store, logger, limits: { maxBatch: 1000, maxFutureMs: 300_000 } });
  const port: number = await server.listen('127.0.0.1', 0);
  const client = connect(analyticsV1.AnalyticsServiceClient, `127.0.0.1:${port}`);
  const pg = await createBenchDatabase('pm_bench_analytics');
  const db = new Client({ connectionString: pg.url });
  await db.connect();
  try {
    // 1a. gRPC ingest: the first half of the events (or --grpc-events), batches of 1,000,
    // o.inflight calls in flight (the service's writer coalesces the calls that arrive while an
    // insert runs). At 10M, --grpc-events 500000 keeps the run to ~half an hour: the gRPC rate
    // is measured on fewer events, the rest is loaded at the writer's rate.
    const half = Math.floor(Math.min(o.grpcEvents ?? w.events.length / 2, w.events.length) / 1000) * 1000;
    const batches: analyticsV1.EmailEvent[][] = [];
    for (let i = 0; i < half; i += 1000) batches.push(w.events.slice(i, i + 1000));
    let next = 0;
    const t0 = performance.now();
    const cpu0 = process.cpuUsage();
    await Promise.all(
      Array.from({ length: o.inflight }, async () => {
        while (next < batches.length) {
          const b = batches[next++];
          await call(client, 'ingestEvents', { durability: 0, tenantId: w.tenantId, events: b }, { deadlineMs: 60_000 }); // the bench's own heap (10M events as objects) pauses for GC
        }
      }),
    );
    const ingestS = (performance.now() - t0) / 1000;
    const cpu1 = process.cpuUsage(cpu0);
    say(
      `gRPC IngestEvents → chDB (events + key index + 3 rollups by materialized views): ${Math.round(half / ingestS).toLocaleString()} events/s ` +
        `(${half.toLocaleString()} in ${ingestS.toFixed(1)} s; process CPU ${((cpu1.user + cpu1.system) / half).toFixed(1)} µs/event, client and server in this process)`,
    );
    // 1b. The second half straight into the service's writer (src/domain/events.ts ingestEvents,
    // what IngestEvents calls after validation) in blocks of 20,000: the store's own rate,
    // without gRPC and protobuf.
    // (Skipped when --grpc-events took every event: there is nothing left for it.)
    if (half < w.events.length) {
      const { ingestEvents } = load('domain/events');
      const rest = ingestRows(w.events.slice(half));
      const d0 = performance.now();
      const dcpu0 = process.cpuUsage();
      for (let i = 0; i < rest.length; i += 20_000) await ingestEvents(store, w.tenantId, rest.slice(i, i + 20_000));
      const directS = (performance.now() - d0) / 1000;
      const dcpu = process.cpuUsage(dcpu0);
      say(
        `writer (no gRPC) → chDB, blocks of 20,000: ${Math.round(rest.length / directS).toLocaleString()} events/s ` +
          `(${rest.length.toLocaleString()} in ${directS.toFixed(1)} s; process CPU ${((dcpu.user + dcpu.system) / rest.length).toFixed(1)} µs/event)`,
      );
    }

    // 2. JetStream → consumer → tables
    if (o.jsEvents > 0) {
      const nc = await connectNats({ url: process.env.NATS_URL ?? 'nats://127.0.0.1:4222', name: 'bench-analytics', logger });
      const tag = randomUUID().slice(0, 8);
      const names = new EventNames(`pmbench${tag}`, `PMBENCH_${tag}`);
      await ensureStream(nc, { name: names.stream('metadata'), subjects: [names.tierSubjects('metadata')], duplicateWindowMs: 60_000 });
      const js = jetstream(nc);
      const jsTenant = randomUUID();
      const p0 = performance.now();
      const pending: Promise<unknown>[] = [];
      for (let i = 0; i < o.jsEvents; i++) {
        const e = buildEnvelope({
          tenantId: jsTenant,
          source: 'metadata',
          eventType: 'penguinmails.metadata.v1.MessageRecorded',
          type: metadataV1.MessageRecorded,
          payload: {
            message: metadataV1.MessageRef.fromPartial({
              id: randomUUID(),
              tenantId: jsTenant,
              emailAccountId: w.mailboxes[i % 200],
              campaignId: w.campaigns[i % 40],
              sequenceStepId: w.steps[i % 40][0],
              leadId: randomUUID(),
              direction: metadataV1.Direction.DIRECTION_OUTBOUND,
              messageType: metadataV1.MessageType.MESSAGE_TYPE_EMAIL,
              status: metadataV1.MessageStatus.MESSAGE_STATUS_SENT,
              created: new Date(w.now - (i % 1000) * 1000),
              updated: new Date(w.now),
            }),
          },
        });
        pending.push(js.publish(names.subject('metadata', jsTenant, 'message_recorded'), e.bytes, { msgID: e.eventId }));
        if (pending.length >= 2000) await Promise.all(pending.splice(0));
      }
      await Promise.all(pending);
      const pubS = (performance.now() - p0) / 1000;
      const consumer = await metadataEventsConsumer({ nc, names, store, logger, maxBatch: 5000, maxWaitMs: 1000, stream: { duplicateWindowMs: 60_000 } });
      const c0 = performance.now();
      await consumer.start();
      for (;;) {
        const rows = await (
          await store.client.query({ query: `select count() as n from ${store.table('events')} where tenant_id = {t:UUID}`, query_params: { t: jsTenant }, format: 'JSONEachRow' })
        ).json();
        if (Number((rows[0] as { n: number }).n) >= o.jsEvents) break;
        await new Promise((r) => setTimeout(r, 50));
      }
      const consS = (performance.now() - c0) / 1000;
      await consumer.stop();
      await jetstreamManager(nc).then((m) => m.streams.delete(names.stream('metadata'))).catch(() => undefined);
      await nc.drain();
      say(`JetStream → consumer → chDB: ${Math.round(o.jsEvents / consS).toLocaleString()} events/s (${o.jsEvents.toLocaleString()} MessageRecorded in ${consS.toFixed(1)} s; publishing them took ${pubS.toFixed(1)} s)`);
    }

    // --- PostgreSQL: the same events in a plain table ---
    await db.query(`create table email_events (
      tenant_id uuid not null, event_id uuid not null, occurred_at timestamptz not null, event_type text not null,
      campaign_id uuid, email_account_id uuid, sequence_step_id uuid, message_ref_id uuid, bounce_type text not null default '', variant text not null default '',
      primary key (tenant_id, event_id))`);
    const l0 = performance.now();
    await pipeline(
      Readable.from(
        (function* () {
          for (let i = 0; i < w.events.length; i += 10_000) {
            yield w.events
              .slice(i, i + 10_000)
              .map((e) =>
                [w.tenantId, e.eventId, e.occurredAt!.toISOString(), TYPE_NAME[e.eventType], e.campaignId, e.emailAccountId, e.sequenceStepId, e.messageRefId, e.bounceType === 2 ? 'soft' : e.bounceType === 1 ? 'hard' : '', e.variant].join('\t'),
              )
              .join('\n') + '\n';
          }
        })(),
      ),
      db.query(copyFrom('copy email_events from stdin')),
    );
    await db.query('create index on email_events (tenant_id, campaign_id, occurred_at)');
    await db.query('create index on email_events (tenant_id, email_account_id, occurred_at)');
    await db.query('create index on email_events (tenant_id, sequence_step_id, occurred_at)');
    await db.query('create index on email_events (tenant_id, occurred_at)');
    await db.query('vacuum analyze email_events');
    say(`PostgreSQL: COPY + 4 b-tree indexes + vacuum analyze in ${((performance.now() - l0) / 1000).toFixed(1)} s`);
    await db.query("set jit = off"); // PostgreSQL's JIT adds ~100 ms compile time to these queries on this box

    // Let background merges settle (at most 120 s): the queries should not race the parts of
    // the ingest just done. The part counts are printed.
    const parts = async () =>
      (await (await store.client.query({ query: `select table, count() as n from system.parts where database = 'bench_analytics' and active group by table order by table`, format: 'JSONEachRow' })).json()) as { table: string; n: number }[];
    for (let waited = 0; waited < 120; waited += 2) {
      const m = (await (await store.client.query({ query: 'select count() as n from system.merges', format: 'JSONEachRow' })).json()) as { n: number }[];
      if (Number(m[0].n) === 0) break;
      await new Promise((r) => setTimeout(r, 2000));
    }
    say(`active parts before the queries: ${(await parts()).map((p) => `${p.table} ${p.n}`).join(', ')}`);

    // --- the questions, both sides ---
    const end = new Date(w.now + 60_000);
    const start = new Date(end.getTime() - 30 * DAY);
    const range = { start, end };
    const camp = (i: number) => w.campaigns[i % w.campaigns.length];
    const mbox = (i: number) => w.mailboxes[i % w.mailboxes.length];
    const counts = `count(*) filter (where event_type='sent') sent, count(*) filter (where event_type='delivered') delivered, count(*) filter (where event_type='opened') opened,
      count(*) filter (where event_type='clicked') clicked, count(*) filter (where event_type='replied') replied, count(*) filter (where event_type='bounced') bounced,
      count(*) filter (where event_type='bounced' and bounce_type='soft') soft_bounced, count(*) filter (where event_type='unsubscribed') unsubscribed,
      count(*) filter (where event_type='complained') complained, count(*) filter (where event_type='auto_replied') auto_replied,
      count(distinct message_ref_id) filter (where event_type='opened') unique_opened, count(distinct message_ref_id) filter (where event_type='clicked') unique_clicked`;
    const T0 = w.tenantId;
    const cases: { name: string; ch: (i: number) => Promise<unknown>; pg: (i: number) => Promise<unknown> }[] = [
      {
        name: 'GetCampaignMetrics (30 d, totals + days)',
        ch: (i) => call(client, 'getCampaignMetrics', { tenantId: T0, campaignId: camp(i), timeRange: range }),
        pg: (i) =>
          db.query(`select date_trunc('day', occurred_at at time zone 'UTC') d, ${counts} from email_events where tenant_id=$1 and campaign_id=$2 and occurred_at >= $3 and occurred_at < $4 group by grouping sets ((d), ())`, [T0, camp(i), start, end]),
      },
      {
        name: 'GetTimeSeries (campaign, day, 30 d, Europe/Berlin)',
        ch: (i) => call(client, 'getTimeSeries', { tenantId: T0, campaignId: camp(i), sequenceStepId: '', emailAccountId: '', timeRange: range, bucket: analyticsV1.TimeBucket.TIME_BUCKET_DAY, timeZone: 'Europe/Berlin' }),
        pg: (i) =>
          db.query(
            `with b as (select date_trunc('day', occurred_at at time zone 'Europe/Berlin') d, ${counts} from email_events where tenant_id=$1 and campaign_id=$2 and occurred_at >= $3 and occurred_at < $4 group by 1)
             select g.d, b.* from generate_series(date_trunc('day', $3::timestamptz at time zone 'Europe/Berlin'), $4::timestamptz at time zone 'Europe/Berlin', interval '1 day') g(d) left join b on b.d = g.d order by g.d`,
            [T0, camp(i), start, end],
          ),
      },
      {
        name: 'GetTimeSeries (mailbox, hour, 7 d)',
        ch: (i) => call(client, 'getTimeSeries', { tenantId: T0, campaignId: '', sequenceStepId: '', emailAccountId: mbox(i), timeRange: { start: new Date(end.getTime() - 7 * DAY), end }, bucket: analyticsV1.TimeBucket.TIME_BUCKET_HOUR, timeZone: 'UTC' }),
        pg: (i) =>
          db.query(
            `with b as (select date_trunc('hour', occurred_at) d, ${counts} from email_events where tenant_id=$1 and email_account_id=$2 and occurred_at >= $3 and occurred_at < $4 group by 1)
             select g.d, b.* from generate_series(date_trunc('hour', $3::timestamptz), $4::timestamptz, interval '1 hour') g(d) left join b on b.d = g.d order by g.d`,
            [T0, mbox(i), new Date(end.getTime() - 7 * DAY), end],
          ),
      },
      {
        name: 'GetStepFunnel (campaign, all time)',
        ch: (i) => call(client, 'getStepFunnel', { tenantId: T0, campaignId: camp(i), sequenceStepIds: [] }),
        pg: (i) => db.query(`select sequence_step_id, min(occurred_at) first, ${counts} from email_events where tenant_id=$1 and campaign_id=$2 group by sequence_step_id order by first limit 100`, [T0, camp(i)]),
      },
      {
        name: 'GetMailboxHealth (24 h + 28 d)',
        ch: (i) => call(client, 'getMailboxHealth', { tenantId: T0, emailAccountId: mbox(i), dailyLimit: 50, asOf: end }),
        pg: (i) =>
          db.query(
            `select count(*) filter (where event_type='sent' and occurred_at >= $3::timestamptz - interval '24 hours') sent_24h, ${counts} from email_events where tenant_id=$1 and email_account_id=$2 and occurred_at >= $3::timestamptz - interval '28 days' and occurred_at < $3`,
            [T0, mbox(i), end],
          ),
      },
      {
        name: 'ListMailboxHealth (tenant, 200 mailboxes)',
        ch: () => call(client, 'listMailboxHealth', { tenantId: T0, dailyLimits: [], defaultDailyLimit: 50, asOf: end, limit: 100 }),
        pg: () =>
          db.query(
            `select email_account_id, count(*) filter (where event_type='sent' and occurred_at >= $2::timestamptz - interval '24 hours') sent_24h, ${counts} from email_events where tenant_id=$1 and occurred_at >= $2::timestamptz - interval '28 days' and occurred_at < $2 group by email_account_id`,
            [T0, end],
          ),
      },
      {
        name: 'GetTopCampaigns (reply rate, 30 d, top 10)',
        ch: () => call(client, 'getTopCampaigns', { tenantId: T0, timeRange: range, metric: analyticsV1.CampaignMetric.CAMPAIGN_METRIC_REPLY_RATE, limit: 10, minSent: 1 }),
        pg: () =>
          db.query(
            `select campaign_id, count(*) filter (where event_type='replied')::float8 / nullif(count(*) filter (where event_type='sent'), 0) v, ${counts} from email_events where tenant_id=$1 and occurred_at >= $2 and occurred_at < $3 group by campaign_id having count(*) filter (where event_type='sent') >= 1 order by v desc nulls last, campaign_id limit 10`,
            [T0, start, end],
          ),
      },
      {
        name: 'GetReplyTiming (campaign, 30 d, America/New_York)',
        ch: (i) => call(client, 'getReplyTiming', { tenantId: T0, campaignId: camp(i), timeRange: range, timeZone: 'America/New_York' }),
        pg: (i) =>
          db.query(
            `with m as (select message_ref_id, min(occurred_at) filter (where event_type='sent') s, min(occurred_at) filter (where event_type='replied') r
                        from email_events where tenant_id=$1 and campaign_id=$2 and event_type in ('sent','replied') and occurred_at >= $3 group by message_ref_id)
             select extract(isodow from s at time zone 'America/New_York') wd, extract(hour from s at time zone 'America/New_York') hr, count(*) sent, count(r) replied,
                    percentile_cont(array[0.5, 0.9]) within group (order by extract(epoch from r - s)) q
             from m where s is not null and s < $4 group by grouping sets ((1, 2), ())`,
            [T0, camp(i), start, end],
          ),
      },
      {
        name: 'GetVariantMetrics (campaign, all steps)',
        ch: (i) => call(client, 'getVariantMetrics', { tenantId: T0, campaignId: camp(i), sequenceStepId: '' }),
        pg: (i) =>
          db.query(
            `with m as (select message_ref_id, max(sequence_step_id::text) step, max(variant) v, bool_or(event_type='sent') s, bool_or(event_type='opened') o, bool_or(event_type='clicked') c, bool_or(event_type='replied') r, bool_or(event_type='bounced') b
                        from email_events where tenant_id=$1 and campaign_id=$2 group by message_ref_id)
             select step, v, count(*), count(*) filter (where o), count(*) filter (where c), count(*) filter (where r), count(*) filter (where b) from m where s group by step, v order by step, v limit 1000`,
            [T0, camp(i)],
          ),
      },
    ];
    const rows: (string | number)[][] = [];
    for (const c of cases) {
      const ch = await timeIt(o.reps, c.ch);
      const p = await timeIt(o.reps, c.pg);
      rows.push([c.name, f1(ch.p50), f1(ch.p99), f1(p.p50), f1(p.p99), `${(p.p50 / ch.p50).toFixed(1)}x`]);
      process.stdout.write(`  ${c.name}: ClickHouse ${f1(ch.p50)} / ${f1(ch.p99)} ms, PostgreSQL ${f1(p.p50)} / ${f1(p.p99)} ms\n`);
    }
    say('');
    say(table(['query', 'CH gRPC p50 ms', 'CH p99', 'PG SQL p50 ms', 'PG p99', 'PG/CH p50'], rows));
    return lines.join('\n');
  } finally {
    client.close();
    await server.shutdown(1000);
    await store.close();
    await db.end();
    await pg.drop();
    rmSync(chdbDir, { recursive: true, force: true });
  }
}

if (require.main === module) {
  runAnalytics(analyticsOptions(parseArgs(process.argv.slice(2))))
    .then(() => process.exit(0))
    .catch((err) => {
      process.stderr.write(`bench failed: ${(err as Error).stack ?? err}\n`);
      process.exit(1);
    });
}
