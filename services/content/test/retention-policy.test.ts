import { randomBytes, randomUUID } from 'node:crypto';
import { commonV1, contentV1 } from '@penguinmails/contracts';
import { call, createPgPool, defaultMetrics } from '@penguinmails/service-kit';
import { OrphanSweeper } from '../src/domain/orphans';
import { paced, sweepOnce, type SweepOptions } from '../src/domain/retention';
import { startContent, type Harness } from './harness';

// Retention by policy: age and size budget per tenant (defaults from settings), the per-object
// exemption SetExpiry sets, batches cut by rows and bytes, two sweepers at once (no double
// delete, no waiting on each other's locks), ContentDeleted events with the reason, metrics.

const R = contentV1.DeletionReason;
const MiB = 1024 * 1024;
let h: Harness;
beforeAll(async () => {
  h = await startContent();
});
afterAll(() => h.close());

const opts = (o: Partial<SweepOptions> = {}): SweepOptions => ({ batchSize: 100, batchBytes: 64 * MiB, defaults: { maxAgeDays: 0, maxTotalBytes: 0 }, ...o });
const put = (tenantId: string, text: string) =>
  call(h.client, 'putContent', { tenantId, storageKey: '', contentText: text, rawSizeBytes: 0n, expires: undefined }).then((r) => r.content!.storageKey);
/** Puts `n` objects whose `created` is 1..n hours ago in order (keys[0] the oldest). */
async function aged(tenantId: string, n: number, size: number, daysOld = 0): Promise<string[]> {
  const keys: string[] = [];
  for (let i = 0; i < n; i++) keys.push(await put(tenantId, String.fromCharCode(97 + (i % 26)).repeat(size)));
  await h.pool.query(
    `update content_objects c set created = now() - make_interval(days => $3::int) - make_interval(hours => ($2::int - k.i + 1)::int)
       from unnest($1::varchar[]) with ordinality as k(key, i) where c.storage_key = k.key`,
    [keys, n, daysOld],
  );
  return keys;
}
const live = async (keys: string[]) =>
  (await h.pool.query<{ storage_key: string }>(`select storage_key from content_objects where storage_key = any($1)`, [keys])).rows.map((r) => r.storage_key).sort();
/** ContentDeleted events of a tenant: [storage key, reason], and the transaction (outbox `created`) of each. */
async function deletions(tenantId: string) {
  const { rows } = await h.pool.query<{ payload: Buffer; created: Date }>(
    `select payload, created from outbox_events where tenant_id = $1 and event_type = 'penguinmails.content.v1.ContentDeleted' order by created`,
    [tenantId],
  );
  return rows.map((r) => {
    const p = contentV1.ContentDeleted.decode(commonV1.EventEnvelope.decode(r.payload).payload);
    return { key: p.storageKey, reason: p.reason, tx: r.created.toISOString() };
  });
}
const exempt = (tenantId: string, storageKey: string, expires?: Date) => call(h.client, 'setExpiry', { tenantId, storageKey, expires, followPolicy: false });

test('by age: objects older than the tenant policy (else the default) go, reason POLICY_AGE; SetExpiry exempts one', async () => {
  const [own, dflt, none] = [randomUUID(), randomUUID(), randomUUID()];
  await call(h.client, 'setRetentionPolicy', { tenantId: own, maxAgeDays: 10 });
  await call(h.client, 'setRetentionPolicy', { tenantId: none, maxAgeDays: 0 }); // explicitly no age limit
  const old = await aged(own, 3, 100, 12); // 12 days old
  const young = await aged(own, 2, 100, 5);
  const dOld = await aged(dflt, 2, 100, 40); // the default (30 days) applies
  const dYoung = await aged(dflt, 1, 100, 20);
  const kept = await aged(none, 2, 100, 400);
  await exempt(own, old[1]);
  const res = await sweepOnce({ pool: h.pool, names: h.names }, opts({ defaults: { maxAgeDays: 30, maxTotalBytes: 0 } }));
  expect(res.policyAge.objects).toBe(4);
  expect(await live([...old, ...young])).toEqual([old[1], ...young].sort());
  expect(await live([...dOld, ...dYoung, ...kept])).toEqual([...dYoung, ...kept].sort());
  expect((await deletions(own)).map((d) => [d.key, d.reason])).toEqual([
    [old[0], R.DELETION_REASON_POLICY_AGE],
    [old[2], R.DELETION_REASON_POLICY_AGE],
  ]);
});

test('by size: a tenant over its budget loses its oldest objects until within it, exemptions skipped, reason OVER_BUDGET', async () => {
  const t = randomUUID();
  const under = randomUUID();
  await call(h.client, 'setRetentionPolicy', { tenantId: t, maxTotalBytes: BigInt(MiB) });
  // 6 × 300,000 bytes = 1.8 MB against 1 MiB: the 3 oldest (not exempted) must go, no more.
  const keys = await aged(t, 6, 300_000);
  await exempt(t, keys[1]);
  const others = await aged(under, 6, 300_000); // no policy and no default budget: kept
  const res = await sweepOnce({ pool: h.pool, names: h.names }, opts());
  expect(res.overBudget.objects).toBe(3);
  expect(res.overBudget.bytes).toBe(900_000);
  expect(await live(keys)).toEqual([keys[1], keys[4], keys[5]].sort());
  expect(await live(others)).toEqual([...others].sort());
  expect((await deletions(t)).map((d) => [d.key, d.reason])).toEqual([keys[0], keys[2], keys[3]].map((k) => [k, R.DELETION_REASON_OVER_BUDGET]));
  const u = await call(h.client, 'getUsage', { tenantId: t });
  expect(u.totalLogicalBytes).toBeLessThanOrEqual(BigInt(MiB));
  // A second sweep finds it within budget.
  expect((await sweepOnce({ pool: h.pool, names: h.names }, opts())).overBudget.objects).toBe(0);
});

test('batches are cut by bytes as well as rows: no transaction deletes more than CONTENT_SWEEP_BATCH_BYTES (but at least one object)', async () => {
  const t = randomUUID();
  const keys = await aged(t, 12, 1_000);
  // Attachments make 10 objects ~256 KiB each; one object is bigger than a batch on its own.
  await Promise.all(
    keys.slice(0, 10).map((k) => call(h.client, 'addAttachment', { tenantId: t, parentStorageKey: k, filename: 'a.pdf', mimeType: 'application/pdf', content: randomBytes(256 * 1024), storageDisposition: 0, attachmentId: '' })),
  );
  await call(h.client, 'addAttachment', { tenantId: t, parentStorageKey: keys[10], filename: 'big.pdf', mimeType: 'application/pdf', content: randomBytes(2 * MiB), storageDisposition: 0, attachmentId: '' });
  await h.pool.query(`update content_objects set expires = now() - interval '1 minute' where storage_key = any($1)`, [keys]);
  const res = await sweepOnce({ pool: h.pool, names: h.names }, opts({ batchSize: 500, batchBytes: MiB }));
  expect(res.expired.objects).toBe(12);
  expect(await live(keys)).toEqual([]);
  const perTx = new Map<string, number>();
  for (const d of await deletions(t)) perTx.set(d.tx, (perTx.get(d.tx) ?? 0) + 1);
  // ~257 KiB each: at most 3 in 1 MiB; the 2 MiB one alone.
  expect(Math.max(...perTx.values())).toBeLessThanOrEqual(3);
  expect(perTx.size).toBeGreaterThanOrEqual(5);
  expect(res.batches).toBe(perTx.size);
  expect(await h.pool.query(`select count(*)::int as n from blobs where tenant_id = $1`, [t]).then((r) => r.rows[0].n)).toBe(0);
  const text = await defaultMetrics().text();
  expect(text).toMatch(/pm_content_purged_objects_total\{reason="expired"\} \d+/);
  expect(text).toMatch(/pm_content_purged_bytes_total\{reason="expired"\} \d+/);
});

test('the orphan sweep cuts its batches by bytes too', async () => {
  const t = randomUUID();
  const keys = await aged(t, 6, 1_000); // 1..6 hours old, no message ref: orphans
  await Promise.all(
    keys.map((k) => call(h.client, 'addAttachment', { tenantId: t, parentStorageKey: k, filename: 'a.pdf', mimeType: 'application/pdf', content: randomBytes(400 * 1024), storageDisposition: 0, attachmentId: '' })),
  );
  // Every other object of this file is referenced, as a message ref would: only t's are orphans.
  await h.pool.query(`insert into content_refs (tenant_id, storage_key) select tenant_id, storage_key from content_objects where tenant_id <> $1 on conflict do nothing`, [t]);
  const sweeper = new OrphanSweeper({ pool: h.pool, names: h.names, logger: undefined as never, intervalMs: 0, batchSize: 100, batchBytes: MiB, graceMs: 1_800_000 });
  expect(await sweeper.sweep()).toBe(6);
  const perTx = new Map<string, number>();
  for (const d of await deletions(t)) perTx.set(d.tx, (perTx.get(d.tx) ?? 0) + 1);
  expect([...perTx.values()]).toEqual([2, 2, 2]); // ~401 KiB each: two fit in 1 MiB
  expect((await deletions(t)).every((d) => d.reason === R.DELETION_REASON_ORPHANED)).toBe(true);
});

test('two sweepers at once: each object deleted and announced once, the budget trimmed once, and neither waits on locks another holds', async () => {
  const t = randomUUID();
  const b = randomUUID();
  const expired = await aged(t, 60, 200);
  await h.pool.query(`update content_objects set expires = now() - interval '1 minute' where storage_key = any($1)`, [expired]);
  const old = await aged(t, 40, 200, 50); // past the 30-day default age
  await call(h.client, 'setRetentionPolicy', { tenantId: b, maxTotalBytes: BigInt(MiB) });
  const budget = await aged(b, 8, 200_000); // 1.6 MB: the 3 oldest go (1.0 MB left)
  // A reader elsewhere holds a row lock on two expired objects, and another replica's budget lock on b.
  const holder = await h.pool.connect();
  const pools = [createPgPool(h.db.url, { max: 2 }), createPgPool(h.db.url, { max: 2 })];
  try {
    await holder.query('begin');
    await holder.query(`select 1 from content_objects where storage_key = any($1) for update`, [[expired[0], expired[1]]]);
    await holder.query(`select pg_advisory_xact_lock(hashtext('pm_content_budget'), hashtext($1))`, [b]);
    const o = opts({ batchSize: 7, batchBytes: 10_000, defaults: { maxAgeDays: 30, maxTotalBytes: 0 } });
    // Not a timing assertion: a sweeper blocked on the held locks would never finish (the test's timeout).
    const results = await Promise.all(pools.map((pool) => sweepOnce({ pool, names: h.names }, o)));
    expect(results.reduce((n, r) => n + r.expired.objects, 0)).toBe(58);
    expect(results.reduce((n, r) => n + r.policyAge.objects, 0)).toBe(40);
    expect(results.reduce((n, r) => n + r.overBudget.objects, 0)).toBe(0); // b's lock is held elsewhere: skipped, not waited for
    expect(await live(expired)).toEqual([expired[0], expired[1]].sort());
    await holder.query('commit');
    const after = await Promise.all(pools.map((pool) => sweepOnce({ pool, names: h.names }, o)));
    expect(after.reduce((n, r) => n + r.expired.objects, 0)).toBe(2);
    expect(after.reduce((n, r) => n + r.overBudget.objects, 0)).toBe(3);
  } finally {
    holder.release();
    await Promise.all(pools.map((p) => p.end()));
  }
  const events = await deletions(t);
  expect(events).toHaveLength(100);
  expect(new Set(events.map((e) => e.key)).size).toBe(100);
  expect(await live([...expired, ...old])).toEqual([]);
  expect((await deletions(b)).map((d) => d.key)).toEqual(budget.slice(0, 3));
  expect(await live(budget)).toEqual(budget.slice(3).sort());
}, 60_000);

test('pacing: a paced sweep pauses after each transaction as long as it took (ratio 1), and still removes everything', async () => {
  // The pause itself, measured against the transaction's own time (no wall-clock expectation).
  const t0 = performance.now();
  let txMs = 0;
  await paced(h.pool, 1, async (client) => {
    const s = performance.now();
    await client.query('select pg_sleep(0.05)');
    txMs = performance.now() - s;
  });
  expect(performance.now() - t0).toBeGreaterThanOrEqual(2 * txMs - 1);
  // A paced sweep over several batches removes the same as an unpaced one would.
  const tenant = randomUUID();
  const keys = [];
  for (let i = 0; i < 5; i++)
    keys.push((await call(h.client, 'putContent', { tenantId: tenant, storageKey: '', contentText: `p${i}`, rawSizeBytes: 0n, expires: new Date(Date.now() + 60_000) })).content!.storageKey);
  await h.pool.query(`update content_objects set expires = now() - interval '1 second' where storage_key = any($1)`, [keys]);
  const res = await sweepOnce({ pool: h.pool, names: h.names }, opts({ batchSize: 2, pauseRatio: 1 }));
  expect(res.expired.objects).toBeGreaterThanOrEqual(5);
  expect(await live(keys)).toEqual([]);
  expect((await deletions(tenant)).map((d) => d.key).sort()).toEqual([...keys].sort());
});
