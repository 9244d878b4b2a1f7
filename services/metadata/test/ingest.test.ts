import { randomUUID } from 'node:crypto';
import { contentV1, type metadataV1 } from '@penguinmails/contracts';
import { Validator, call, createPgPool, runInCallScope } from '@penguinmails/service-kit';
import { contentStore } from '../src/clients/content';
import { ingestMessage, ingestStorageKey, uuidV5, type ContentStore } from '../src/domain/ingest';
import { messageInput } from '../src/rpc/messages';
import { M, OTHER_UUID, Status, expectError, seedTenant, snapshot, startHarness, type DeepPartial, type Harness, type PartialRequest, type Seed } from './harness';

// IngestMessage against a real content server (its own database; the harness's `content`).

let h: Harness;
let t: Seed;
let other: Seed;

beforeAll(async () => {
  h = await startHarness({}, { authTokens: [] }, { content: true });
  t = await seedTenant(h, 'Acme');
  other = await seedTenant(h, 'Globex');
});
afterAll(() => h.stop());

const message = (s: Seed, over: DeepPartial<metadataV1.MessageInput> = {}): DeepPartial<metadataV1.MessageInput> => ({
  emailAccountId: s.mailboxId,
  direction: M.Direction.DIRECTION_INBOUND,
  fromEmail: 'jane@lead.example',
  toEmail: 'sales@acme.example',
  subject: 'Re: hello',
  providerMessageId: `<${randomUUID()}@mail.example>`,
  ...over,
});

const request = (over: DeepPartial<metadataV1.MessageInput> = {}, s: Seed = t): PartialRequest<'ingestMessage'> => ({
  tenantId: s.tenantId,
  message: message(s, over),
  body: { contentText: 'Thanks, tell me more', contentHtml: '<p>Thanks, tell me more</p>', headers: { Subject: 'Re: hello', Received: ['a', 'b'] } },
  attachments: [
    { filename: 'a.pdf', mimeType: 'application/pdf', content: Buffer.from('%PDF-1.4 a') },
    { filename: 'logo.png', mimeType: 'image/png', content: Buffer.from('png'), inline: true },
  ],
});

const refsWithKey = async (key: string) => (await h.pool.query('select id from inbox_message_refs where content_storage_key = $1', [key])).rowCount;
const objects = async (key: string) => {
  const { rows } = await h.content!.pool.query<{ n: number; a: number }>(
    'select (select count(*) from content_objects where storage_key = $1)::int as n, (select count(*) from attachments where parent_storage_key = $1)::int as a',
    [key],
  );
  return rows[0];
};

describe('IngestMessage', () => {
  it('stores body and attachments in the content tier and records the ref with the key', async () => {
    const req = request();
    const res = await h.rpc('ingestMessage', req);
    expect(res.created).toBe(true);
    const key = res.message!.contentStorageKey;
    expect(key).toBe(ingestStorageKey(t.tenantId, { providerMessageId: req.message!.providerMessageId!, clientKey: null }));
    expect(key.startsWith(`${t.tenantId}/msg/`)).toBe(true);
    expect(res.message!.contentState).toBe(M.ContentState.CONTENT_STATE_STORED);
    const got = await call(h.content!.client, 'getContent', { tenantId: t.tenantId, storageKey: key });
    expect(got.contentText).toBe('Thanks, tell me more');
    const atts = await call(h.content!.client, 'listAttachments', { tenantId: t.tenantId, parentStorageKey: key, page: undefined });
    expect(atts.attachments.map((a) => [a.filename, a.storageDisposition])).toEqual([
      ['a.pdf', contentV1.StorageDisposition.STORAGE_DISPOSITION_ATTACHMENT],
      ['logo.png', contentV1.StorageDisposition.STORAGE_DISPOSITION_INLINE],
    ]);
    expect((await h.rpc('getMessage', { tenantId: t.tenantId, messageId: res.message!.id })).message!.contentStorageKey).toBe(key);
  });

  it('a second call with the same key returns the ref, created = false, and stores nothing more', async () => {
    const req = request({ providerMessageId: '', clientKey: `ck-${randomUUID()}` });
    const a = await h.rpc('ingestMessage', req);
    const before = [await snapshot(h.pool), await h.content!.counts()];
    const b = await h.rpc('ingestMessage', req);
    expect(b).toMatchObject({ created: false, message: { id: a.message!.id } });
    expect([await snapshot(h.pool), await h.content!.counts()]).toEqual(before);
  });

  it('links and acts like RecordMessage (a reply moves its parent to replied)', async () => {
    const pmid = `<${randomUUID()}@out.example>`;
    const { message: parent } = await h.rpc('recordMessage', {
      tenantId: t.tenantId,
      message: { emailAccountId: t.mailboxId, campaignId: t.campaignId, direction: M.Direction.DIRECTION_OUTBOUND, fromEmail: 'sales@acme.example', toEmail: 'jane@lead.example', providerMessageId: pmid },
    });
    const r = await h.rpc('ingestMessage', request({ inReplyTo: pmid }));
    expect(r.message).toMatchObject({ parentMessageId: parent!.id, campaignId: t.campaignId });
    expect((await h.rpc('getMessage', { tenantId: t.tenantId, messageId: parent!.id })).message!.status).toBe(M.MessageStatus.MESSAGE_STATUS_REPLIED);
  });

  const bad: [string, () => PartialRequest<'ingestMessage'>, string][] = [
    ['a content_storage_key', () => request({ contentStorageKey: `${t.tenantId}/x/y` }), 'message.content_storage_key'],
    ['21 attachments', () => ({ ...request(), attachments: Array.from({ length: 21 }, () => ({ content: Buffer.from('x') })) }), 'attachments'],
    ['a filename with a newline', () => ({ ...request(), attachments: [{ filename: 'a\nb', content: Buffer.from('x') }] }), 'attachments[0].filename'],
    ['a mime type that is not type/subtype', () => ({ ...request(), attachments: [{ mimeType: 'pdf', content: Buffer.from('x') }] }), 'attachments[0].mime_type'],
    ['expires in the past', () => ({ ...request(), body: { contentText: 'x', expires: new Date(Date.now() - 60_000) } }), 'body.expires'],
    ['no idempotency key', () => request({ providerMessageId: '' }), 'message.provider_message_id'],
    ['a body over the content tier limit (1 MiB in the harness)', () => ({ ...request(), body: { contentText: 'x'.repeat(1024 * 1024 + 10) } }), 'body.content_text'],
  ];
  it.each(bad)('%s → INVALID_ARGUMENT naming the field, nothing written in either tier', async (_what, req, field) => {
    const before = [await snapshot(h.pool), await h.content!.counts()];
    await expectError(h.rpc('ingestMessage', req()), Status.INVALID_ARGUMENT, field);
    expect([await snapshot(h.pool), await h.content!.counts()]).toEqual(before);
  });

  it("another tenant's mailbox or parent, or an unknown tenant → NOT_FOUND before anything is stored", async () => {
    const before = [await snapshot(h.pool), await h.content!.counts()];
    await expectError(h.rpc('ingestMessage', request({ emailAccountId: other.mailboxId })), Status.NOT_FOUND);
    await expectError(h.rpc('ingestMessage', { ...request(), tenantId: OTHER_UUID }), Status.NOT_FOUND);
    const { rows } = await h.pool.query<{ id: string }>('select id::text from inbox_message_refs where tenant_id = $1 limit 1', [other.tenantId]);
    if (rows[0]) await expectError(h.rpc('ingestMessage', request({ parentMessageId: rows[0].id })), Status.NOT_FOUND);
    expect([await snapshot(h.pool), await h.content!.counts()]).toEqual(before);
  });

  it('a different body under a key whose first attempt failed before the ref → ALREADY_EXISTS', async () => {
    const req = request();
    const key = ingestStorageKey(t.tenantId, { providerMessageId: req.message!.providerMessageId!, clientKey: null });
    await call(h.content!.client, 'putContent', { tenantId: t.tenantId, storageKey: key, contentText: 'something else', rawSizeBytes: 0n });
    await expectError(h.rpc('ingestMessage', req), Status.ALREADY_EXISTS);
    expect(await refsWithKey(key)).toBe(0);
  });

  it('content unreachable → UNAVAILABLE naming the content tier, nothing recorded; a retry afterwards records once', async () => {
    const req = request();
    const before = await snapshot(h.pool);
    await h.content!.stop();
    try {
      let err: Error | undefined;
      await h.rpc('ingestMessage', req).catch((e: Error) => (err = e));
      expect((err as unknown as { code: number }).code).toBe(Status.UNAVAILABLE);
      expect(err!.message).toMatch(/content tier/);
      expect(await snapshot(h.pool)).toEqual(before);
    } finally {
      await h.content!.start();
    }
    let res: Awaited<ReturnType<typeof h.rpc<'ingestMessage'>>> | undefined;
    for (let i = 0; i < 50 && !res; i++) {
      res = await h.rpc('ingestMessage', req).catch(() => undefined);
      if (!res) await new Promise((r) => setTimeout(r, 100));
    }
    expect(res!.created).toBe(true);
    expect(await objects(res!.message!.contentStorageKey)).toEqual({ n: 1, a: 2 });
  });
});

describe('IngestMessage retried after a failure at any point: one content object, one ref', () => {
  /** The real content client, failing once at step `failAt` (0 = PutContent, i + 1 = attachment i, 'record' = after every content call). */
  function failingOnce(failAt: number): ContentStore & { failed: boolean } {
    const real = contentStore(h.content!.client);
    const store = {
      failed: false,
      async putContent(req: contentV1.PutContentRequest, ms: number) {
        const res = await real.putContent(req, ms);
        if (failAt === 0 && !store.failed) {
          store.failed = true;
          throw new Error('injected: lost the answer of PutContent');
        }
        return res;
      },
      async addAttachment(req: contentV1.AddAttachmentRequest, ms: number, i: number) {
        const res = await real.addAttachment(req, ms, i);
        if (failAt === i + 1 && !store.failed) {
          store.failed = true;
          throw new Error(`injected: failed after attachment ${i}`);
        }
        return res;
      },
    };
    return store;
  }

  function inputOf(req: PartialRequest<'ingestMessage'>) {
    const v = new Validator();
    const input = messageInput(v, 'message', M.MessageInput.fromPartial(req.message!), t.tenantId);
    v.done();
    return input;
  }
  const body = { contentText: 'hello', rawSizeBytes: 0 };
  const atts = [0, 1, 2].map((i) => ({ filename: `f${i}.txt`, mimeType: 'text/plain', content: Buffer.from(`file ${i}`), inline: false }));

  it.each([0, 1, 2, 3])('fails after content step %i, then a retry completes', async (failAt) => {
    const req = request();
    const input = inputOf(req);
    const content = failingOnce(failAt);
    const deps = { pool: h.pool, names: h.nats.names, content };
    await expect(ingestMessage(deps, t.tenantId, input, body, atts)).rejects.toThrow(/injected/);
    const key = ingestStorageKey(t.tenantId, input);
    expect(await refsWithKey(key)).toBe(0);
    const r = await ingestMessage(deps, t.tenantId, input, body, atts);
    expect(r.created).toBe(true);
    expect(await refsWithKey(key)).toBe(1);
    expect(await objects(key)).toEqual({ n: 1, a: 3 });
  });

  it('fails at the ref insert (the database refuses the transaction), then a retry completes', async () => {
    const req = request();
    const input = inputOf(req);
    const key = ingestStorageKey(t.tenantId, input);
    const broken = createPgPool('postgres://nobody:nothing@127.0.0.1:1/none', { max: 1 });
    // Reads go to the real database; the recording transaction to one that does not answer.
    const pool = new Proxy(h.pool, {
      get: (target, p) => {
        if (p === 'connect') return broken.connect.bind(broken);
        const v = Reflect.get(target, p, target) as unknown;
        return typeof v === 'function' ? v.bind(target) : v;
      },
    });
    await expect(ingestMessage({ pool, names: h.nats.names, content: contentStore(h.content!.client) }, t.tenantId, input, body, atts)).rejects.toThrow();
    await broken.end().catch(() => undefined);
    expect(await refsWithKey(key)).toBe(0);
    expect(await objects(key)).toEqual({ n: 1, a: 3 });
    const r = await ingestMessage({ pool: h.pool, names: h.nats.names, content: contentStore(h.content!.client) }, t.tenantId, input, body, atts);
    expect(r.created).toBe(true);
    expect(await refsWithKey(key)).toBe(1);
    expect(await objects(key)).toEqual({ n: 1, a: 3 });
  });

  it('concurrent retries of one message make one object and one ref', async () => {
    const req = request();
    const results = await Promise.all(Array.from({ length: 6 }, () => h.rpc('ingestMessage', req)));
    expect(new Set(results.map((r) => r.message!.id)).size).toBe(1);
    expect(results.filter((r) => r.created)).toHaveLength(1);
    expect(await objects(results[0].message!.contentStorageKey)).toEqual({ n: 1, a: 2 });
  });

  it('passes what is left of the deadline to the content tier', async () => {
    const seen: number[] = [];
    const real = contentStore(h.content!.client);
    const content: ContentStore = {
      putContent: (r, ms) => (seen.push(ms), real.putContent(r, ms)),
      addAttachment: (r, ms, i) => (seen.push(ms), real.addAttachment(r, ms, i)),
    };
    const input = inputOf(request());
    const controller = new AbortController();
    await runInCallScope({ deadline: new Date(Date.now() + 3_000), signal: controller.signal }, () =>
      ingestMessage({ pool: h.pool, names: h.nats.names, content }, t.tenantId, input, body, atts.slice(0, 1)),
    );
    expect(seen).toHaveLength(2);
    for (const ms of seen) expect(ms).toBeGreaterThan(0);
    for (const ms of seen) expect(ms).toBeLessThanOrEqual(3_000);
  });

  it('the derived ids are RFC 4122 version 5 UUIDs (the uuid package\'s reference vector)', () => {
    // v5 of 'hello.example.com' in the DNS namespace, as the uuid package's README gives it.
    expect(uuidV5('hello.example.com', '6ba7b810-9dad-11d1-80b4-00c04fd430c8')).toBe('fdda765f-fc57-5604-a269-52a7df8164ec');
  });
});
