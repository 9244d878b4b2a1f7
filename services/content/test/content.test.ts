import { randomUUID } from 'node:crypto';
import { status } from '@grpc/grpc-js';
import { contentV1 } from '@penguinmails/contracts';
import { call } from '@penguinmails/service-kit';
import { failure, fields, startContent, type Harness } from './harness';

let h: Harness;
beforeAll(async () => {
  h = await startContent({ limits: { contentMaxBytes: 64 * 1024 } });
});
afterAll(() => h.close());

const tenant = randomUUID();
const other = randomUUID();
const headers = { From: 'Ada <ada@example.com>', Subject: 'Hello', Received: ['by mx1', 'by mx2'] };

describe('PutContent / GetContent', () => {
  test('stores a body under a generated key and reads it back', async () => {
    const put = await call(h.client, 'putContent', {
      tenantId: tenant,
      storageKey: '',
      contentText: 'Hi Ada',
      contentHtml: '<p>Hi Ada</p>',
      headers,
      rawSizeBytes: 0n,
    });
    expect(put.created).toBe(true);
    const key = put.content!.storageKey;
    expect(key).toMatch(new RegExp(`^${tenant}/\\d{4}/\\d{2}/[0-9a-f-]{36}$`));
    // 0 means "compute": UTF-8 sizes of text + html + the headers' JSON.
    expect(put.content!.rawSizeBytes).toBe(BigInt(6 + 13 + Buffer.byteLength(JSON.stringify(headers))));
    expect(put.content!.expires).toBeUndefined();

    const got = await call(h.client, 'getContent', { tenantId: tenant, storageKey: key });
    expect(got.contentText).toBe('Hi Ada');
    expect(got.contentHtml).toBe('<p>Hi Ada</p>');
    expect(got.headers).toEqual(headers);
    expect(got.content).toMatchObject({ storageKey: key, tenantId: tenant, hasText: true, hasHtml: true });
  });

  test('keeps an absent body apart from an empty one, and honours expires and raw_size_bytes', async () => {
    const expires = new Date(Date.now() + 3600_000);
    const key = `${tenant}/legacy/${randomUUID()}`;
    const put = await call(h.client, 'putContent', { tenantId: tenant, storageKey: key, contentText: '', rawSizeBytes: 4242n, expires });
    expect(put.content).toMatchObject({ storageKey: key, rawSizeBytes: 4242n, hasText: true, hasHtml: false });
    expect(put.content!.expires!.getTime()).toBe(expires.getTime());
    const got = await call(h.client, 'getContent', { tenantId: tenant, storageKey: key });
    expect(got.contentText).toBe('');
    expect(got.contentHtml).toBeUndefined();
    expect(got.headers).toBeUndefined();
  });

  test('is idempotent on storage_key: same content replays, other content is ALREADY_EXISTS', async () => {
    const key = `${tenant}/idem/${randomUUID()}`;
    const req = { tenantId: tenant, storageKey: key, contentText: 'body', headers: { A: '1', B: ['x', 'y'] }, rawSizeBytes: 0n };
    const first = await call(h.client, 'putContent', req);
    const before = await h.counts();
    // Header key order does not matter (jsonb equality).
    const again = await call(h.client, 'putContent', { ...req, headers: { B: ['x', 'y'], A: '1' } });
    expect(again.created).toBe(false);
    expect(again.content).toEqual(first.content);
    expect(await h.counts()).toEqual(before); // no second row, no second event

    const clash = await failure(call(h.client, 'putContent', { ...req, contentText: 'other body' }));
    expect(clash.code).toBe(status.ALREADY_EXISTS);
    expect(clash.message).toContain('content_text');
    expect(clash.resourceInfo?.resourceName).toBe(key);
    expect(await h.counts()).toEqual(before);
  });

  test('concurrent puts of one key store it once and emit one event', async () => {
    const key = `${tenant}/race/${randomUUID()}`;
    const before = await h.counts();
    const res = await Promise.all(
      Array.from({ length: 5 }, () => call(h.client, 'putContent', { tenantId: tenant, storageKey: key, contentText: 'same', rawSizeBytes: 0n })),
    );
    expect(res.filter((r) => r.created)).toHaveLength(1);
    const after = await h.counts();
    expect(after.content - before.content).toBe(1);
    expect(after.outbox - before.outbox).toBe(1);
  });

  test("another tenant's key is NOT_FOUND for Get and Delete", async () => {
    const put = await call(h.client, 'putContent', { tenantId: tenant, storageKey: '', contentText: 'secret', rawSizeBytes: 0n });
    const key = put.content!.storageKey;
    const before = await h.counts();
    for (const p of [
      call(h.client, 'getContent', { tenantId: other, storageKey: key }),
      call(h.client, 'deleteContent', { tenantId: other, storageKey: key }),
    ]) {
      const s = await failure(p);
      expect(s.code).toBe(status.NOT_FOUND);
      expect(s.resourceInfo).toMatchObject({ resourceType: 'content_object', resourceName: key });
    }
    expect(await h.counts()).toEqual(before);
  });

  test('an expired object is gone for every RPC', async () => {
    const key = `${tenant}/exp/${randomUUID()}`;
    await call(h.client, 'putContent', { tenantId: tenant, storageKey: key, contentText: 'x', rawSizeBytes: 0n, expires: new Date(Date.now() + 1000) });
    await h.pool.query(`update content_objects set expires = now() - interval '1 second' where storage_key = $1`, [key]);
    expect((await failure(call(h.client, 'getContent', { tenantId: tenant, storageKey: key }))).code).toBe(status.NOT_FOUND);
    // ...and the key is reusable at once (the expired row is replaced, with a ContentDeleted event).
    const events = async () =>
      (await h.pool.query<{ t: string; n: number }>(`select event_type as t, count(*)::int as n from outbox_events where tenant_id = $1 group by 1 order by 1`, [tenant])).rows;
    const before = await events();
    const again = await call(h.client, 'putContent', { tenantId: tenant, storageKey: key, contentText: 'new', rawSizeBytes: 0n });
    expect(again.created).toBe(true);
    expect((await call(h.client, 'getContent', { tenantId: tenant, storageKey: key })).contentText).toBe('new');
    // One ContentDeleted (the expired object) and one ContentStored (the new one), nothing else.
    const count = (rows: { t: string; n: number }[], t: string) => rows.find((r) => r.t === t)?.n ?? 0;
    const after = await events();
    expect(count(after, 'penguinmails.content.v1.ContentDeleted') - count(before, 'penguinmails.content.v1.ContentDeleted')).toBe(1);
    expect(count(after, 'penguinmails.content.v1.ContentStored') - count(before, 'penguinmails.content.v1.ContentStored')).toBe(1);
    // A replay of the new object: created = false, no event.
    expect((await call(h.client, 'putContent', { tenantId: tenant, storageKey: key, contentText: 'new', rawSizeBytes: 0n })).created).toBe(false);
    expect(await events()).toEqual(after);
  });
});

describe('PutContent refuses bad input and writes nothing', () => {
  const cases: [string, Partial<contentV1.PutContentRequest>, string[]][] = [
    ['missing tenant_id', { tenantId: '' }, ['tenant_id']],
    ['non-uuid tenant_id', { tenantId: 'acme' }, ['tenant_id']],
    ['storage_key over 500', { storageKey: `${tenant}/${'k'.repeat(500)}` }, ['storage_key']],
    ['storage_key of another tenant', { storageKey: `${other}/x` }, ['storage_key']],
    ['storage_key with a space', { storageKey: `${tenant}/a b` }, ['storage_key']],
    ['body over CONTENT_MAX_BYTES', { contentHtml: 'x'.repeat(64 * 1024 + 1) }, ['content_html']],
    ['NUL in content_text', { contentText: 'a\u0000b' }, ['content_text']],
    ['expires in the past', { expires: new Date(Date.now() - 1000) }, ['expires']],
    ['negative raw_size_bytes', { rawSizeBytes: -1n }, ['raw_size_bytes']],
    ['several at once', { tenantId: 'nope', rawSizeBytes: -5n, storageKey: 'k'.repeat(501) }, ['raw_size_bytes', 'storage_key', 'tenant_id']],
  ];
  test.each(cases)('%s', async (_name, patch, expected) => {
    const before = await h.counts();
    const s = await failure(call(h.client, 'putContent', { tenantId: tenant, storageKey: '', contentText: 'ok', rawSizeBytes: 0n, ...patch }));
    expect(s.code).toBe(status.INVALID_ARGUMENT);
    expect(fields(s)).toEqual(expected);
    expect(s.fieldViolations.every((f) => f.description.length > 10)).toBe(true);
    expect(await h.counts()).toEqual(before);
  });

  test('the size violation names the limit', async () => {
    const s = await failure(call(h.client, 'putContent', { tenantId: tenant, storageKey: '', contentText: 'y'.repeat(70_000), rawSizeBytes: 0n }));
    expect(s.fieldViolations[0]).toMatchObject({ field: 'content_text', reason: 'TOO_LARGE' });
    expect(s.fieldViolations[0].description).toContain('CONTENT_MAX_BYTES');
    expect(s.fieldViolations[0].description).toContain('65536');
  });

  test('Get and Delete validate too', async () => {
    const before = await h.counts();
    let s = await failure(call(h.client, 'getContent', { tenantId: 'x', storageKey: '' }));
    expect(fields(s)).toEqual(['storage_key', 'tenant_id']);
    s = await failure(call(h.client, 'deleteContent', { tenantId: tenant, storageKey: 'k'.repeat(501) }));
    expect(s.code).toBe(status.INVALID_ARGUMENT);
    expect(fields(s)).toEqual(['storage_key']);
    expect(await h.counts()).toEqual(before);
  });
});

describe('DeleteContent', () => {
  test('deletes the object and its attachments, then it is NOT_FOUND', async () => {
    const put = await call(h.client, 'putContent', { tenantId: tenant, storageKey: '', contentText: 'bye', rawSizeBytes: 0n });
    const key = put.content!.storageKey;
    await call(h.client, 'addAttachment', { tenantId: tenant, parentStorageKey: key, filename: 'a.txt', mimeType: 'text/plain', content: Buffer.from('a'), storageDisposition: 0, attachmentId: '' });
    await call(h.client, 'addAttachment', { tenantId: tenant, parentStorageKey: key, filename: 'b.txt', mimeType: 'text/plain', content: Buffer.from('b'), storageDisposition: 0, attachmentId: '' });
    const before = await h.counts();
    const res = await call(h.client, 'deleteContent', { tenantId: tenant, storageKey: key });
    expect(res.attachmentsDeleted).toBe(2);
    const after = await h.counts();
    expect(after).toEqual({ ...before, content: before.content - 1, attachments: before.attachments - 2, outbox: before.outbox + 1, blobs: before.blobs - 2 });
    expect((await failure(call(h.client, 'getContent', { tenantId: tenant, storageKey: key }))).code).toBe(status.NOT_FOUND);
    expect((await failure(call(h.client, 'deleteContent', { tenantId: tenant, storageKey: key }))).code).toBe(status.NOT_FOUND);
  });
});

describe('PutContent commits its event without a NOTIFY (which serializes commits) and wakes the relay in process', () => {
  test('a new object: its ContentStored row, no pm_outbox notification, outboxWritten called; DeleteContent still notifies', async () => {
    const woken: string[] = [];
    const own = await startContent({ outboxWritten: () => woken.push('put') });
    const listener = await own.pool.connect();
    const heard: string[] = [];
    listener.on('notification', (n) => heard.push(n.channel));
    try {
      await listener.query('listen pm_outbox');
      const key = `${tenant}/quiet/${randomUUID()}`;
      await call(own.client, 'putContent', { tenantId: tenant, storageKey: key, contentText: 'x', rawSizeBytes: 0n });
      const rows = await own.pool.query(`select 1 from outbox_events where event_type = 'penguinmails.content.v1.ContentStored'`);
      expect(rows.rowCount).toBe(1);
      expect(woken).toEqual(['put']);
      // A replay writes nothing and wakes nobody.
      await call(own.client, 'putContent', { tenantId: tenant, storageKey: key, contentText: 'x', rawSizeBytes: 0n });
      expect(woken).toEqual(['put']);
      // The control: a write in a transaction (DeleteContent) notifies as before, on this same
      // listener; a notification of the put would have arrived before it (NOTIFY is ordered).
      await call(own.client, 'deleteContent', { tenantId: tenant, storageKey: key });
      const until = Date.now() + 10_000;
      while (heard.length === 0 && Date.now() < until) await new Promise((r) => setTimeout(r, 20));
      expect(heard).toEqual(['pm_outbox']);
      // Another writer's insert (no setting) still notifies: the trigger only skips when asked.
      await own.pool.query(`insert into outbox_events (id, tenant_id, subject, event_type, payload) values ($1, $2, 'x', 'x', '\\x00')`, [randomUUID(), tenant]);
      while (heard.length === 1 && Date.now() < until) await new Promise((r) => setTimeout(r, 20));
      expect(heard).toEqual(['pm_outbox', 'pm_outbox']);
    } finally {
      listener.release();
      await own.close();
    }
  });
});
