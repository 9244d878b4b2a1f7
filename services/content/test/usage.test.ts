import { randomBytes, randomUUID } from 'node:crypto';
import { status } from '@grpc/grpc-js';
import { call } from '@penguinmails/service-kit';
import { OrphanSweeper } from '../src/domain/orphans';
import { sweepOnce } from '../src/domain/retention';
import { asStrings, failure, fields, recount, startContent, type Harness } from './harness';

// GetUsage: the counters the triggers keep in the writing transactions equal a full recount of
// the tables after a mixed workload (concurrent puts, shared and distinct attachments,
// transactional emails, deletes with their cascades and blob releases, the retention sweep by
// expiry, age and size, the orphan sweep), and the expiring counts equal a direct count.

let h: Harness;
beforeAll(async () => {
  h = await startContent();
});
afterAll(() => h.close());

const HOUR = 3_600_000;
const put = (tenantId: string, text: string, expires?: Date) =>
  call(h.client, 'putContent', {
    tenantId,
    storageKey: '',
    contentText: text,
    contentHtml: `<p>${text.slice(0, 100)}</p>`,
    headers: { Subject: `s ${text.length}`, Received: ['a', 'b'] },
    rawSizeBytes: 0n,
    expires,
  }).then((r) => r.content!.storageKey);
const attach = (tenantId: string, parentStorageKey: string, content: Buffer) =>
  call(h.client, 'addAttachment', { tenantId, parentStorageKey, filename: 'f.bin', mimeType: 'application/pdf', content, storageDisposition: 0, attachmentId: '' });
const usage = (tenantId: string) => call(h.client, 'getUsage', { tenantId });


test('the counters equal a full recount after a mixed workload with deletes, cascades, retention and orphan sweeps', async () => {
  const [a, b] = [randomUUID(), randomUUID()];
  const soon = (h: number) => new Date(Date.now() + h * HOUR);
  // Concurrent puts of both tenants (the pool's connections: several counter shards).
  const keysA = await Promise.all(Array.from({ length: 24 }, (_, i) => put(a, 'é'.repeat(50 + i * 37), i < 5 ? soon(12) : i < 8 ? soon(72) : i < 10 ? soon(480) : i < 11 ? soon(960) : undefined)));
  const keysB = await Promise.all(Array.from({ length: 12 }, (_, i) => put(b, 'x'.repeat(100 + i * 11))));
  // Attachments: one logo shared by six objects (one blob), distinct files, and concurrently.
  const logo = randomBytes(5_000);
  await Promise.all(keysA.slice(0, 6).map((k) => attach(a, k, logo)));
  await Promise.all(keysA.slice(6, 10).map((k) => attach(a, k, randomBytes(3_000))));
  await Promise.all(keysB.slice(0, 4).map((k) => attach(b, k, k === keysB[0] ? logo : randomBytes(2_000))));
  await attach(b, keysB[1], logo); // the same bytes under another tenant: its own blob
  for (let i = 0; i < 3; i++)
    await call(h.client, 'createTransactionalEmail', {
      tenantId: a, transactionalEmailId: '', recipientEmail: 'ada@example.com', recipientUserId: '', kind: 'receipt', subject: 'Receipt', contentText: `paid ${i}`, bodyExpires: undefined,
    });
  const tx = await call(h.client, 'createTransactionalEmail', {
    tenantId: b, transactionalEmailId: '', recipientEmail: 'bob@example.com', recipientUserId: '', kind: 'alert', subject: 'Alert', contentHtml: '<b>alert</b>', bodyExpires: undefined,
  });
  const mid = [await recount(h.pool, a), await recount(h.pool, b)];
  expect(asStrings(await usage(a))).toEqual(mid[0]);
  expect(asStrings(await usage(b))).toEqual(mid[1]);
  expect(mid[0].attachmentBlobs.count).toBe('5'); // logo once + 4 distinct

  // Deletes: DeleteContent cascades attachments (one holding the shared logo, one a distinct file).
  await call(h.client, 'deleteContent', { tenantId: a, storageKey: keysA[0] });
  await call(h.client, 'deleteContent', { tenantId: a, storageKey: keysA[7] });
  // Orphans: two of B's objects (no message ref) are two hours old.
  await h.pool.query(`update content_objects set created = now() - interval '2 hours' where storage_key = any($1)`, [[keysB[2], keysB[3]]]);
  expect(await new OrphanSweeper({ pool: h.pool, names: h.names, logger: undefined as never, intervalMs: 0, batchSize: 10, graceMs: HOUR }).sweep()).toBe(2);
  // Expiry: three objects (one with the logo, one a transactional body: the email keeps its record).
  await h.pool.query(`update content_objects set expires = now() - interval '1 minute' where storage_key = any($1)`, [
    [keysA[1], keysA[20], tx.transactionalEmail!.bodyStorageKey],
  ]);
  // Policy by age: A keeps 10 days; two of its objects are 15 days old.
  await call(h.client, 'setRetentionPolicy', { tenantId: a, maxAgeDays: 10 });
  await h.pool.query(`update content_objects set created = now() - interval '15 days' where storage_key = any($1)`, [[keysA[2], keysA[21]]]);
  // Policy by size: B's budget is 1 MiB; three bodies of ~400 KB put it over.
  await call(h.client, 'setRetentionPolicy', { tenantId: b, maxTotalBytes: 1_048_576n });
  for (let i = 0; i < 3; i++) await put(b, 'y'.repeat(400_000));
  const swept = await sweepOnce({ pool: h.pool, names: h.names }, { batchSize: 4, batchBytes: 300_000, defaults: { maxAgeDays: 0, maxTotalBytes: 0 } });
  expect([swept.expired.objects, swept.policyAge.objects]).toEqual([3, 2]);
  expect(swept.overBudget.objects).toBeGreaterThanOrEqual(1);

  const end = [await recount(h.pool, a), await recount(h.pool, b)];
  expect(asStrings(await usage(a))).toEqual(end[0]);
  expect(asStrings(await usage(b))).toEqual(end[1]);
  expect(BigInt(end[1].totalLogicalBytes)).toBeLessThanOrEqual(1_048_576n);
  // Of the 5 / 8 / 10 put with an expiry within a day / week / month, keys 0, 1, 2 and 7 are gone.
  expect(end[0].expiring).toEqual({ nextDay: '2', nextWeek: '4', nextMonth: '6' });
  expect(end[0].transactionalEmails).toBe('3');
  expect(end[1].transactionalEmails).toBe('1'); // its body went, the record stays
  expect(end[1].transactionalBodies.count).toBe('0');
}, 60_000);

test('body bytes are the UTF-8 bytes of text + html + the headers as PostgreSQL prints the JSON; a tenant with nothing is zeros', async () => {
  const t = randomUUID();
  await call(h.client, 'putContent', { tenantId: t, storageKey: '', contentText: 'abé', contentHtml: '<p>x</p>', headers: { a: 'b' }, rawSizeBytes: 0n, expires: undefined });
  const u = await usage(t);
  // 'abé' = 4 bytes, '<p>x</p>' = 8, '{"a": "b"}' = 10.
  expect(u.bodies).toEqual({ count: 1n, bytes: 22n });
  expect(u.totalLogicalBytes).toBe(22n);
  const empty = await usage(randomUUID());
  expect(empty.bodies).toEqual({ count: 0n, bytes: 0n });
  expect(empty.expiring).toEqual({ nextDay: 0n, nextWeek: 0n, nextMonth: 0n });
});

test('GetUsage refuses a bad tenant id, naming it, and writes nothing', async () => {
  const before = await h.counts();
  const s = await failure(usage('not-a-uuid'));
  expect(s.code).toBe(status.INVALID_ARGUMENT);
  expect(fields(s)).toEqual(['tenant_id']);
  expect(await h.counts()).toEqual(before);
});
