/**
 * `cd bench && npx tsx src/analytics-ingest-ceiling.ts [--events 400000] [--block 100000] [--rounds 2] [--layers 1,3,4,5]`
 *
 * How fast chDB can take events on this machine, layer by layer (issue 10's "ingest at least
 * 100,000 events/s into chDB"). Each layer adds one cost to the one before:
 *  1. engine: `insert into events … select` of generated rows (no format to parse, no Node),
 *     with the 7 materialized views, then again with `parallel_view_processing = 1`;
 *  2. engine, no views: the same into `events` alone;
 *  3. TSV, no views: the service's insertEvents (toTsv in Node, then chDB's TabSeparated parser)
 *     of ready rows into `events` alone;
 *  4. TSV + views: the same with the 7 views;
 *  5. writer: the service's ingestEvents (validation already done, as IngestEvents hands it over:
 *     fact ids, the de-duplication filter, then layer 4).
 * Two shapes of the same analytics-olap data set: `spread` (30 days, as bench:analytics loads it)
 * and `live` (the same events moved into the last 10 minutes: what a running stream looks like,
 * where the minute and hour rollups collapse). Printed, never asserted; rounds alternate.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generate, ingestRows } from './analytics-olap';
import { intArg, parseArgs } from './lib/report';

const ANALYTICS = join(__dirname, '..', '..', 'services', 'analytics', 'src');
// The analytics service is not a dependency of bench (it would pull chDB into every bench
// install): its sources are loaded from the workspace at run time, as analytics-olap does.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const load = (m: string) => require(join(ANALYTICS, m));

const VIEWS = ['event_keys_mv', 'campaign_hourly_mv', 'mailbox_hourly_mv', 'sequence_step_hourly_mv', 'campaign_minutely_mv', 'mailbox_minutely_mv', 'sequence_step_minutely_mv'];
const COLUMNS = '(event_id, tenant_id, occurred_at, event_type, campaign_id, email_account_id, sequence_step_id, lead_id, message_ref_id, bounce_type, variant, detail_rank, sign)';
const NIL = '00000000-0000-0000-0000-000000000000';

/** Generated in the engine with the data set's cardinalities: 40 campaigns, 200 mailboxes, 160 steps, the last 10 minutes. */
const generated = (n: number) =>
  `select generateUUIDv4(1), toUUID('11111111-1111-1111-1111-111111111111'), now64(3) - toIntervalMillisecond(rand(2) % 600000), ` +
  `['sent','delivered','opened'][rand(3) % 3 + 1], toUUID(concat('00000000-0000-0000-0000-0000000000', leftPad(toString(rand(4) % 40), 2, '0'))), ` +
  `toUUID(concat('00000000-0000-0000-0000-000000000', leftPad(toString(rand(5) % 200), 3, '0'))), toUUID(concat('00000000-0000-0000-0000-000000000', leftPad(toString(rand(6) % 160), 3, '0'))), ` +
  `toUUID('${NIL}'), generateUUIDv4(7), '', '', 2, 1 from numbers(${n})`;

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  const n = intArg(args, 'events', 400_000, 1_000, 5_000_000);
  const block = intArg(args, 'block', 100_000, 1_000, 1_000_000);
  const rounds = intArg(args, 'rounds', 2, 1, 10);
  const layers = new Set((args.values.get('layers') ?? '1,3,4,5').split(',').map(Number)); // 1 = layers 1 and 2 (the engine's)
  const { createStore } = load('db/client');
  const { migrateClickHouse } = load('db/migrate');
  const { ingestEvents } = load('domain/events');
  const { insertEvents } = load('db/insert-events');
  const { toClickHouseTime } = load('domain/ids');
  const w = generate(n);
  type Ingest = { eventId: string; type: string; occurredAt: Date; campaignId?: string; emailAccountId?: string; sequenceStepId?: string; messageRefId?: string };
  const shapes: Record<'spread' | 'live', Ingest[]> = {
    spread: ingestRows(w.events) as Ingest[],
    live: ingestRows(w.events.map((e) => ({ ...e, occurredAt: new Date(w.now - ((e.occurredAt as Date).getTime() % 600_000)) }))) as Ingest[],
  };
  // Layers 3-4 take the rows as the writer would hand them to insertEvents (no unique facts: one row per event).
  const asRows = (events: Ingest[]) =>
    events.map((e) => ({
      event_id: e.eventId,
      tenant_id: w.tenantId,
      occurred_at: toClickHouseTime(e.occurredAt),
      event_type: e.type,
      campaign_id: e.campaignId ?? NIL,
      email_account_id: e.emailAccountId ?? NIL,
      sequence_step_id: e.sequenceStepId ?? NIL,
      lead_id: NIL,
      message_ref_id: e.messageRefId ?? NIL,
      bounce_type: '',
      variant: '',
      detail_rank: 2,
      sign: 1,
    }));
  const dir = mkdtempSync(join(tmpdir(), 'pm-bench-ceiling-'));
  const store = createStore({ kind: 'chdb', path: dir }, 'ceiling');
  process.stdout.write(`analytics ingest ceiling: ${n.toLocaleString()} events per layer, blocks of ${block.toLocaleString()}, ${rounds} rounds, chDB in this process\n`);
  let db = 0;
  const fresh = async (views: boolean) => {
    const s = { ...store, database: `ceiling_${db++}` };
    s.table = (name: string) => `\`${s.database}\`.\`${name}\``;
    await migrateClickHouse({ store: s });
    if (!views) for (const v of VIEWS) await s.client.command({ query: `drop view ${s.database}.${v}` });
    return s;
  };
  const measure = async (label: string, count: number, fn: () => Promise<void>) => {
    const t0 = performance.now();
    const c0 = process.cpuUsage();
    await fn();
    const s = (performance.now() - t0) / 1000;
    const c = process.cpuUsage(c0);
    process.stdout.write(`  ${label.padEnd(52)} ${Math.round(count / s).toLocaleString().padStart(9)} events/s  (process CPU ${((c.user + c.system) / count).toFixed(1)} µs/event)\n`);
  };
  try {
    for (let round = 1; round <= rounds; round++) {
      process.stdout.write(`round ${round}\n`);
      for (const [views, pvp] of layers.has(1) ? ([[true, 0], [true, 1], [false, 0]] as const) : []) {
        const s = await fresh(views);
        await measure(`1${views ? '' : '/2'}. engine, generated rows (live), ${views ? `7 views${pvp ? ', parallel' : ''}` : 'no views'}`, n, async () => {
          await s.client.command({ query: `insert into ${s.database}.events ${COLUMNS} ${generated(n)} settings parallel_view_processing = ${pvp}` });
        });
      }
      for (const [shape, events] of Object.entries(shapes)) {
        const rows = asRows(events);
        for (const views of [false, true].filter((v) => layers.has(v ? 4 : 3))) {
          const s = await fresh(views);
          await measure(`${views ? 4 : 3}. TSV${views ? ' + 7 views' : ', no views'} (${shape})`, rows.length, async () => {
            for (let i = 0; i < rows.length; i += block) await insertEvents(s, rows.slice(i, i + block));
          });
        }
        if (!layers.has(5)) continue;
        const s = await fresh(true);
        await measure(`5. writer (${shape})`, events.length, async () => {
          for (let i = 0; i < events.length; i += block) await ingestEvents(s, w.tenantId, events.slice(i, i + block));
        });
      }
    }
  } finally {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

main().then(
  () => process.exit(0),
  (err) => {
    process.stderr.write(`${err instanceof Error ? err.stack : String(err)}\n`);
    process.exit(1);
  },
);
