import { randomUUID } from 'node:crypto';
import { status } from '@grpc/grpc-js';
import { contentV1 } from '@penguinmails/contracts';
import { call } from '@penguinmails/service-kit';
import { failure, fields, startContent, type Harness } from './harness';

// BatchPutContent: many objects in one transaction with PutContent's rules per item
// (idempotent per key, conflicts per item), one ContentStored per new object, usage counters
// right, bad input refused as a whole with nothing written, no deadlock between overlapping batches.

let h: Harness;
beforeAll(async () => {
  // A small batch byte cap, so the cap can be crossed with small bodies.
  h = await startContent({ limits: { contentMaxBytes: 4096, batchPutMaxBytes: 100_000 } });
});
afterAll(() => h.close());

const O = contentV1.BatchPutOutcome;
type Item = contentV1.BatchPutContentItem;
const item = (tenantId: string, suffix: string, text = `text ${suffix}`, extra: Partial<Item> = {}): Item => ({
  storageKey: `${tenantId}/legacy/${suffix}`,
  contentText: text,
  contentHtml: `<p>${text}</p>`,
  headers: { Subject: `s ${suffix}`, Received: ['a', 'b'] },
  rawSizeBytes: 0n,
  expires: undefined,
  ...extra,
});
const batch = (tenantId: string, items: Item[]) => call(h.client, 'batchPutContent', { tenantId, items });
const storedEvents = async (tenantId: string) =>
  (await h.pool.query(`select count(*)::int as n from outbox_events where tenant_id = $1 and event_type = 'penguinmails.content.v1.ContentStored'`, [tenantId])).rows[0].n as number;

test('stores every item in one call, readable, one ContentStored each; a replay is EXISTING and writes nothing', async () => {
  const t = randomUUID();
  const items = [item(t, 'a'), item(t, 'b', 'other'), { ...item(t, 'c'), contentHtml: undefined, headers: undefined }];
  const res = await batch(t, items);
  expect(res.createdCount).toBe(3);
  expect(res.results.map((r) => [r.storageKey, r.outcome])).toEqual(items.map((i) => [i.storageKey, O.BATCH_PUT_OUTCOME_CREATED]));
  expect(res.results[2].content).toMatchObject({ hasText: true, hasHtml: false, tenantId: t });
  const got = await call(h.client, 'getContent', { tenantId: t, storageKey: items[1].storageKey });
  expect([got.contentText, got.contentHtml, got.headers]).toEqual(['other', '<p>other</p>', { Subject: 's b', Received: ['a', 'b'] }]);
  // raw size computed as PutContent does (text + html + headers JSON) when 0 is sent
  expect(Number(res.results[0].content!.rawSizeBytes)).toBe(Buffer.byteLength('text a') + Buffer.byteLength('<p>text a</p>') + Buffer.byteLength(JSON.stringify(items[0].headers)));
  expect(await storedEvents(t)).toBe(3);

  const before = await h.counts();
  // Same content, headers in another key order: jsonb equality, as PutContent.
  const again = await batch(t, [{ ...items[0], headers: { Received: ['a', 'b'], Subject: 's a' } }, items[1], items[2]]);
  expect(again.createdCount).toBe(0);
  expect(again.results.map((r) => r.outcome)).toEqual([O.BATCH_PUT_OUTCOME_EXISTING, O.BATCH_PUT_OUTCOME_EXISTING, O.BATCH_PUT_OUTCOME_EXISTING]);
  expect(again.results[0].content!.created).toEqual(res.results[0].content!.created);
  expect(await h.counts()).toEqual(before);
});

test('other content under a stored key is KEY_CONFLICT with PutContent\'s error for it; the other items are stored', async () => {
  const t = randomUUID();
  const first = item(t, 'x');
  await batch(t, [first]);
  const changed = { ...first, contentText: 'changed', headers: { Subject: 'changed' } };
  // What PutContent answers for the same conflict.
  const put = await failure(call(h.client, 'putContent', { tenantId: t, ...changed }));
  expect(put.code).toBe(status.ALREADY_EXISTS);

  const res = await batch(t, [item(t, 'y'), changed, item(t, 'z')]);
  expect(res.results.map((r) => r.outcome)).toEqual([O.BATCH_PUT_OUTCOME_CREATED, O.BATCH_PUT_OUTCOME_KEY_CONFLICT, O.BATCH_PUT_OUTCOME_CREATED]);
  expect(res.createdCount).toBe(2);
  expect(res.results[1].error).toEqual({ code: status.ALREADY_EXISTS, message: put.message, details: [] });
  expect(res.results[1].error!.message).toContain('content_text, headers differ');
  expect(res.results[1].content!.storageKey).toBe(first.storageKey);
  const got = await call(h.client, 'getContent', { tenantId: t, storageKey: first.storageKey });
  expect(got.contentText).toBe('text x');
  expect(await storedEvents(t)).toBe(3); // x, y, z
});

test('an expired object under a key is replaced: ContentDeleted (EXPIRED) for it, then ContentStored', async () => {
  const t = randomUUID();
  const old = item(t, 'e', 'old body');
  await batch(t, [old]);
  await h.pool.query(`update content_objects set expires = now() - interval '1 second' where storage_key = $1`, [old.storageKey]);
  const res = await batch(t, [item(t, 'e', 'new body')]);
  expect(res.results[0].outcome).toBe(O.BATCH_PUT_OUTCOME_CREATED);
  expect((await call(h.client, 'getContent', { tenantId: t, storageKey: old.storageKey })).contentText).toBe('new body');
  // The second call's two events share its transaction's time (now()).
  const { rows } = await h.pool.query(`select event_type, created from outbox_events where tenant_id = $1 order by created`, [t]);
  expect(rows.map((r) => r.event_type.split('.').pop()).slice(1).sort()).toEqual(['ContentDeleted', 'ContentStored']);
  expect(rows[0].event_type).toBe('penguinmails.content.v1.ContentStored');
  expect(rows[1].created).toEqual(rows[2].created);
});

test('usage counters equal PutContent\'s for the same bodies', async () => {
  const [a, b] = [randomUUID(), randomUUID()];
  const bodies = Array.from({ length: 20 }, (_, i) => `body ${i} ${'é'.repeat(i * 7)}`);
  await batch(a, bodies.map((text, i) => item(a, `u${i}`, text)));
  for (const [i, text] of bodies.entries()) await call(h.client, 'putContent', { tenantId: b, ...item(b, `u${i}`, text) });
  const [ua, ub] = [await call(h.client, 'getUsage', { tenantId: a }), await call(h.client, 'getUsage', { tenantId: b })];
  expect(ua.bodies).toEqual({ count: 20n, bytes: ub.bodies!.bytes });
  expect(ub.bodies!.count).toBe(20n);
  const { rows } = await h.pool.query(
    `select sum(coalesce(octet_length(content_text), 0) + coalesce(octet_length(content_html), 0) + coalesce(octet_length(headers::text), 0))::text as bytes
       from content_objects where tenant_id = $1`,
    [a],
  );
  expect(String(ua.bodies!.bytes)).toBe(rows[0].bytes);
});

test('two concurrent batches over the same keys in opposite orders: no deadlock, each key stored and announced once', async () => {
  const t = randomUUID();
  const items = Array.from({ length: 200 }, (_, i) => item(t, `c${String(i).padStart(3, '0')}`));
  const [x, y] = await Promise.all([batch(t, items), batch(t, [...items].reverse())]);
  expect(x.createdCount + y.createdCount).toBe(200);
  const outcomes = [...x.results, ...y.results].map((r) => r.outcome);
  expect(outcomes.filter((o) => o === O.BATCH_PUT_OUTCOME_KEY_CONFLICT)).toEqual([]);
  expect((await h.pool.query(`select count(*)::int as n from content_objects where tenant_id = $1`, [t])).rows[0].n).toBe(200);
  expect(await storedEvents(t)).toBe(200);
});

describe('bad input → INVALID_ARGUMENT naming items[i].<field>, nothing written (all or nothing)', () => {
  const t = randomUUID();
  const other = randomUUID();
  const cases: [string, () => contentV1.BatchPutContentRequest, string[]][] = [
    ['no items', () => ({ tenantId: t, items: [] }), ['items']],
    ['bad tenant', () => ({ tenantId: 'nope', items: [item(t, 'ok')] }), ['tenant_id']],
    ['501 items', () => ({ tenantId: t, items: Array.from({ length: 501 }, (_, i) => item(t, `m${i}`, 'x')) }), ['items']],
    [
      'one bad item among good ones: missing key, other tenant\'s prefix, repeated key, past expiry, negative raw size, over CONTENT_MAX_BYTES',
      () => ({
        tenantId: t,
        items: [
          item(t, 'good1'),
          { ...item(t, 'k'), storageKey: '' },
          item(other, 'theirs'),
          item(t, 'good1', 'text good1'),
          item(t, 'exp', 'x', { expires: new Date(Date.now() - 1000) }),
          item(t, 'raw', 'x', { rawSizeBytes: -1n }),
          item(t, 'big', 'y'.repeat(5000), { contentHtml: undefined }),
          item(t, 'good2'),
        ],
      }),
      ['items[1].storage_key', 'items[2].storage_key', 'items[3].storage_key', 'items[4].expires', 'items[5].raw_size_bytes', 'items[6].content_text'].sort(),
    ],
    ['over CONTENT_BATCH_MAX_BYTES in all', () => ({ tenantId: t, items: Array.from({ length: 40 }, (_, i) => item(t, `cap${i}`, 'z'.repeat(1500))) }), ['items']],
  ];
  test.each(cases)('%s', async (_name, req, expected) => {
    const before = await h.counts();
    const err = await failure(call(h.client, 'batchPutContent', req()));
    expect(err.code).toBe(status.INVALID_ARGUMENT);
    expect(fields(err)).toEqual(expected);
    expect(err.message).toMatch(expected[0].startsWith('items[') ? /items\[\d+\]\./ : new RegExp(expected[0]));
    expect(await h.counts()).toEqual(before);
  });
  test('the byte cap names the setting and the limit', async () => {
    const err = await failure(call(h.client, 'batchPutContent', cases[4][1]()));
    expect(err.fieldViolations[0].description).toMatch(/1\d{5} bytes in all.*CONTENT_BATCH_MAX_BYTES\) is 100000 bytes/);
  });
});

test('tenant scoping: a batch never answers with, nor touches, another tenant\'s object', async () => {
  const [a, b] = [randomUUID(), randomUUID()];
  const theirs = item(a, 'private', 'a secret');
  await batch(a, [theirs]);
  const before = await h.counts();
  // b naming a's key: refused by the prefix rule, as PutContent does.
  const err = await failure(batch(b, [{ ...theirs, contentText: 'overwrite' }]));
  expect(err.code).toBe(status.INVALID_ARGUMENT);
  expect(fields(err)).toEqual(['items[0].storage_key']);
  expect(JSON.stringify(err)).not.toContain('a secret');
  expect(await h.counts()).toEqual(before);
  // b's own key with the same suffix is b's own object.
  const own = await batch(b, [item(b, 'private', 'a secret')]);
  expect(own.results[0]).toMatchObject({ outcome: O.BATCH_PUT_OUTCOME_CREATED, content: { tenantId: b } });
});
