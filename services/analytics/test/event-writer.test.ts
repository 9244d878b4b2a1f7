// The event writer (src/domain/event-writer.ts) and its id filter, on the real chDB engine:
// the filter never says "new" for a stored id, reads ClickHouse's RowBinary UUIDs as their
// text, and the writer coalesces concurrent calls and de-duplicates in both filter modes.
import { spawnSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { existsSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createStore } from '../src/db/client';
import { EventWriter } from '../src/domain/event-writer';
import { IdFilter } from '../src/domain/id-filter';
import { INGEST_DIR, INSERT_BODY_PREFIX, insertEvents, toTsv, type EventRow, type InsertEvents } from '../src/db/insert-events';
import { repairRecent } from '../src/db/repair-recent';
import { freshStore, uuid, type TestStore } from './harness';

let db: TestStore;
beforeAll(async () => {
  db = await freshStore();
});
afterAll(async () => {
  await db?.drop();
});

const NIL = '00000000-0000-0000-0000-000000000000';
function row(tenant: string, o: Partial<EventRow> = {}): EventRow {
  return {
    event_id: randomUUID(),
    tenant_id: tenant,
    occurred_at: '2025-03-04 05:06:07.089',
    event_type: 'sent',
    campaign_id: randomUUID(),
    email_account_id: NIL,
    sequence_step_id: NIL,
    lead_id: NIL,
    message_ref_id: NIL,
    bounce_type: '',
    variant: '',
    detail_rank: 2,
    sign: 1,
    ...o,
  };
}

async function count(tenant: string): Promise<{ rows: number; net: number }> {
  const [r] = await (
    await db.store.client.query({
      query: `select count() as rows, sum(sign) as net from ${db.store.table('events')} where tenant_id = {t:UUID}`,
      query_params: { t: tenant },
      format: 'JSONEachRow',
    })
  ).json<{ rows: string | number; net: string | number }>();
  return { rows: Number(r.rows), net: Number(r.net) };
}

describe('IdFilter', () => {
  it('has every id it was given, and says "maybe" to few others (at capacity: about 1 in 1,000)', () => {
    const f = new IdFilter(50_000);
    const added = Array.from({ length: 50_000 }, () => randomUUID());
    for (const id of added) f.addText(id);
    expect(added.every((id) => f.mightHaveText(id))).toBe(true);
    expect(added.every((id) => f.mightHaveText(id.toUpperCase()))).toBe(true);
    let maybe = 0;
    for (let i = 0; i < 50_000; i++) if (f.mightHaveText(randomUUID())) maybe++;
    expect(maybe / 50_000).toBeLessThan(0.005);
    // Ids that are not random (tests and fixtures use them) hash apart too.
    const g = new IdFilter(1000);
    for (let i = 0; i < 1000; i++) g.addText(`00000000-0000-0000-0000-${String(i).padStart(12, '0')}`);
    let seq = 0;
    for (let i = 1000; i < 11_000; i++) if (g.mightHaveText(`00000000-0000-0000-0000-${String(i).padStart(12, '0')}`)) seq++;
    expect(seq / 10_000).toBeLessThan(0.005);
    expect(f.full).toBe(false);
    f.addText(randomUUID());
    expect(f.full).toBe(true);
  });

  it("reads ClickHouse's RowBinary UUIDs as the same ids as their text", async () => {
    const ids = Array.from({ length: 2000 }, () => randomUUID());
    const bytes = (
      await (
        await db.store.client.exec({
          query: `select toUUID(arrayJoin({ids:Array(String)})) as id format RowBinary`,
          query_params: { ids },
        })
      ).stream.toArray()
    ).reduce<Buffer>((a, b: Buffer) => Buffer.concat([a, b]), Buffer.alloc(0));
    expect(bytes.length).toBe(16 * ids.length);
    const fromText = new IdFilter(10_000);
    const fromBinary = new IdFilter(10_000);
    for (const id of ids) fromText.addText(id);
    for (let o = 0; o < bytes.length; o += 16) fromBinary.addRowBinary(bytes, o);
    expect(ids.every((id) => fromBinary.mightHaveText(id))).toBe(true);
    // Same bits: any other id gets the same answer from both.
    const probes = Array.from({ length: 20_000 }, () => randomUUID());
    expect(probes.map((p) => fromBinary.mightHaveText(p))).toEqual(probes.map((p) => fromText.mightHaveText(p)));
  });
});

describe('EventWriter', () => {
  it('coalesces concurrent calls into few inserts and stores each event once', async () => {
    const tenant = uuid();
    const inserts: number[] = [];
    const counting: InsertEvents = async (store, rows) => {
      inserts.push(rows.length);
      await insertEvents(store, rows);
    };
    const writer = new EventWriter(db.store, { filter: 'memory', maxRows: 5000 });
    await writer.load();
    const batches = Array.from({ length: 20 }, () => Array.from({ length: 100 }, () => row(tenant)));
    // 20 calls at once, and then every batch again (redeliveries) at once.
    await Promise.all(batches.map((b) => writer.write(b, counting)));
    await Promise.all(batches.map((b) => writer.write(b, counting)));
    expect(await count(tenant)).toEqual({ rows: 2000, net: 2000 });
    // The first call's insert runs alone; the 19 that queued behind it go in one.
    expect(inserts.length).toBeLessThanOrEqual(3);
    expect(inserts.reduce((a, b) => a + b, 0)).toBe(2000);
  });

  it('with the store filter (several writers on one server): looks every id up, and two writers count a copy once', async () => {
    const tenant = uuid();
    const a = new EventWriter(db.store, { filter: 'store', maxRows: 5000 });
    const b = new EventWriter(db.store, { filter: 'store', maxRows: 5000 });
    const rows = Array.from({ length: 300 }, () => row(tenant));
    await a.write(rows);
    await b.write(rows); // the other replica gets the redelivery
    await a.write(rows.slice(0, 10));
    expect(await count(tenant)).toEqual({ rows: 300, net: 300 });
    // A copy that knows more, through the other writer: one cancellation and the better copy.
    const bounce = row(tenant, { event_type: 'bounced', detail_rank: 1 });
    await a.write([bounce]);
    await b.write([{ ...bounce, bounce_type: 'soft', detail_rank: 7 }]);
    await a.write([{ ...bounce, detail_rank: 2 }]); // knows less than the stored copy: nothing
    // (A background merge may already have collapsed the cancelled pair: count the net.)
    expect((await count(tenant)).net).toBe(301);
    const standing = await (
      await db.store.client.query({
        query: `select bounce_type, detail_rank from ${db.store.table('events')} final where tenant_id = {t:UUID} and event_id = {e:UUID}`,
        query_params: { t: tenant, e: bounce.event_id },
        format: 'JSONEachRow',
      })
    ).json<{ bounce_type: string; detail_rank: number }>();
    expect(standing).toEqual([{ bounce_type: 'soft', detail_rank: 7 }]);
  });

  it('a memory-filter writer started on stored data (a restart) finds its copies', async () => {
    const tenant = uuid();
    const rows = Array.from({ length: 500 }, () => row(tenant));
    await new EventWriter(db.store, { filter: 'memory', maxRows: 5000 }).write(rows);
    const restarted = new EventWriter(db.store, { filter: 'memory', maxRows: 5000 });
    await restarted.load();
    await restarted.write(rows);
    expect(await count(tenant)).toEqual({ rows: 500, net: 500 });
  });
});

describe('EventWriter, batches larger than one statement can name', () => {
  // ClickHouse refuses SQL over max_query_size (256 KiB): the writer's lookups and fetches of
  // stored copies are split into chunks (src/db/event-keys.ts). Before, a redelivered batch of
  // more than ~3,200 stored ids failed on every delivery.
  const N = 8_000;

  it('a redelivered batch of 8,000 stored events (memory filter: every id looked up) stores nothing twice', async () => {
    const tenant = uuid();
    const rows = Array.from({ length: N }, () => row(tenant));
    const writer = new EventWriter(db.store, { filter: 'memory', maxRows: 20_000 });
    await writer.load();
    await writer.write(rows);
    await writer.write(rows); // the redelivery: all 8,000 are "maybe" and looked up
    expect(await count(tenant)).toEqual({ rows: N, net: N });
  });

  it('8,000 new events through the store filter (a server with several replicas looks every id up)', async () => {
    const tenant = uuid();
    const rows = Array.from({ length: N }, () => row(tenant));
    const writer = new EventWriter(db.store, { filter: 'store', maxRows: 20_000 });
    await writer.write(rows);
    await writer.write(rows.slice(0, 4_000));
    expect(await count(tenant)).toEqual({ rows: N, net: N });
  });

  it('2,000 copies that know more at once: each stored copy cancelled and replaced once', async () => {
    const tenant = uuid();
    const first = Array.from({ length: 2_000 }, () => row(tenant, { event_type: 'bounced', detail_rank: 1 }));
    const writer = new EventWriter(db.store, { filter: 'memory', maxRows: 20_000 });
    await writer.load();
    await writer.write(first);
    await writer.write(first.map((r) => ({ ...r, bounce_type: 'hard', detail_rank: 7 })));
    expect((await count(tenant)).net).toBe(2_000);
    const [r] = await (
      await db.store.client.query({
        query: `select countIf(bounce_type = 'hard') as hard, count() as n from ${db.store.table('events')} final where tenant_id = {t:UUID}`,
        query_params: { t: tenant },
        format: 'JSONEachRow',
      })
    ).json<{ hard: string | number; n: string | number }>();
    expect({ hard: Number(r.hard), n: Number(r.n) }).toEqual({ hard: 2_000, n: 2_000 });
  });
});

describe('insert bodies on chDB (src/db/insert-events.ts: a file the engine reads)', () => {
  const chdbOnly = process.env.CLICKHOUSE_URL ? it.skip : it;

  chdbOnly('leave no file behind after inserts that succeed or fail', async () => {
    const dir = join(db.store.chdbPath!, INGEST_DIR);
    const tenant = uuid();
    await insertEvents(db.store, Array.from({ length: 50 }, () => row(tenant)));
    await expect(insertEvents(db.store, [row(tenant, { event_id: 'not-a-uuid' })])).rejects.toThrow();
    expect(readdirSync(dir).filter((f) => f.startsWith(`${INSERT_BODY_PREFIX}-`))).toEqual([]);
    expect(await count(tenant)).toEqual({ rows: 50, net: 50 });
  });

  it('a variant with a backslash and non-ASCII text is stored as given (TabSeparated escaping through the body)', async () => {
    const tenant = uuid();
    const variants = ['A\\B', 'é-ü', '💌 subject line', 'tab\\tnot-a-tab', ''];
    const rows = variants.map((variant) => row(tenant, { variant }));
    await insertEvents(db.store, rows);
    const stored = await (
      await db.store.client.query({
        query: `select toString(event_id) as id, variant from ${db.store.table('events')} where tenant_id = {t:UUID}`,
        query_params: { t: tenant },
        format: 'JSONEachRow',
      })
    ).json<{ id: string; variant: string }>();
    expect(new Map(stored.map((r) => [r.id, r.variant]))).toEqual(new Map(rows.map((r) => [r.event_id, r.variant])));
  });

  chdbOnly("a body an earlier process left is removed when the folder is opened again (also one with this pid: containers reuse pid 1); this process's is kept", async () => {
    const dir = join(db.store.chdbPath!, INGEST_DIR);
    // A pid that is not running: the child's, after it exited.
    const dead = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))']).stdout.toString();
    const earlier = [`${dead}.0badf00d-${randomUUID()}.tsv`, `${process.pid}.0badf00d-${randomUUID()}.tsv`];
    for (const f of earlier) writeFileSync(join(dir, f), 'left by a killed process');
    const mine = join(dir, `${INSERT_BODY_PREFIX}-${randomUUID()}.tsv`);
    writeFileSync(mine, 'an insert of this process in progress');
    createStore({ kind: 'chdb', path: db.store.chdbPath! }, db.store.database); // what a restart does first (not closed: it shares this process's engine)
    try {
      for (const f of earlier) expect(existsSync(join(dir, f))).toBe(false);
      expect(existsSync(mine)).toBe(true);
    } finally {
      rmSync(mine, { force: true });
    }
  });
});

describe('toTsv (the insert body, written field by field)', () => {
  it('writes the same bytes as one template string per row, also for escapes, non-ASCII variants, cancellations and a buffer that must grow', () => {
    const esc = (v: string) => v.replace(/\\/g, '\\\\').replace(/\t/g, '\\t').replace(/\n/g, '\\n').replace(/\r/g, '\\r');
    const reference = (rows: EventRow[]) =>
      Buffer.from(
        rows
          .map((r) =>
            [r.event_id, r.tenant_id, r.occurred_at, r.event_type, r.campaign_id, r.email_account_id, r.sequence_step_id, r.lead_id, r.message_ref_id, r.bounce_type, esc(r.variant), r.detail_rank, r.sign].join('\t') + '\n',
          )
          .join(''),
      );
    const variants = ['', 'A', 'é-ü', 'a\\b', 'tab\there', 'line\nbreak', '💌'.repeat(100), 'x'.repeat(100)];
    const tenant = uuid();
    for (const n of [1, 7, 500]) {
      const rows = Array.from({ length: n }, (_, i) =>
        row(tenant, { variant: variants[i % variants.length], event_type: i % 2 ? 'unique_opened' : 'sent', bounce_type: i % 3 ? '' : 'soft', detail_rank: 1 + (i % 7), sign: i % 4 ? 1 : -1 }),
      );
      expect(toTsv(rows).equals(reference(rows))).toBe(true);
    }
    expect(toTsv([]).length).toBe(0);
  });
});

describe('repairRecent (a process killed inside an insert)', () => {
  it('puts a rollup that missed rows and event_keys that missed rows back in step with events, so a retry counts once', async () => {
    const tenant = uuid();
    const campaign = randomUUID();
    const rows = Array.from({ length: 50 }, () => row(tenant, { campaign_id: campaign, occurred_at: '2026-11-20 10:15:00.000' }));
    const writer = new EventWriter(db.store, { filter: 'memory', maxRows: 5000 });
    await writer.load();
    await writer.write(rows);
    const sent = async (table = 'campaign_hourly') => {
      const [r] = await (
        await db.store.client.query({
          query: `select sumForEachMerge(counts)[1] as sent from ${db.store.table(table)} where tenant_id = {t:UUID} and campaign_id = {c:UUID}`,
          query_params: { t: tenant, c: campaign },
          format: 'JSONEachRow',
        })
      ).json<{ sent: number | string }>();
      return Number(r.sent);
    };
    expect(await sent()).toBe(50);
    // What a kill inside the insert of the last 10 rows can leave: events and event_keys have
    // them, the campaign rollup does not (a row of -10 sent stands for its missing part)...
    await db.store.client.command({
      query: `insert into ${db.store.table('campaign_hourly')} (tenant_id, campaign_id, hour, counts)
              select {t:UUID}, {c:UUID}, toDateTime('2026-11-20 10:00:00', 'UTC'), sumForEachState([toInt64(-10)])`,
      query_params: { t: tenant, c: campaign },
    });
    // ...nor does the minute level (migration 007) of 3 of them...
    await db.store.client.command({
      query: `insert into ${db.store.table('campaign_minutely')} (tenant_id, campaign_id, minute, counts)
              select {t:UUID}, {c:UUID}, toDateTime('2026-11-20 10:15:00', 'UTC'), sumForEachState([toInt64(-3)])`,
      query_params: { t: tenant, c: campaign },
    });
    expect(await sent('campaign_minutely')).toBe(47);
    // ...and event_keys lacks 5 of them.
    await db.store.client.command({
      query: `alter table ${db.store.table('event_keys')} delete where event_id in {ids:Array(UUID)} settings mutations_sync = 2`,
      query_params: { ids: rows.slice(0, 5).map((r) => r.event_id) },
    });
    expect(await sent()).toBe(40);
    expect(await repairRecent(db.store)).toEqual({ buckets: 2, keys: 5 });
    expect(await sent()).toBe(50);
    expect(await sent('campaign_minutely')).toBe(50);
    expect(await repairRecent(db.store)).toEqual({ buckets: 0, keys: 0 });
    // The caller retries the whole batch on a restarted writer: nothing is written twice.
    const restarted = new EventWriter(db.store, { filter: 'memory', maxRows: 5000 });
    await restarted.load();
    await restarted.write(rows);
    expect(await sent()).toBe(50);
    expect(await sent('campaign_minutely')).toBe(50);
    expect(await count(tenant)).toEqual({ rows: 50, net: 50 });
  });
});
