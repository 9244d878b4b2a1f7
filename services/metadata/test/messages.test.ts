import { randomUUID } from 'node:crypto';
import type { metadataV1 } from '@penguinmails/contracts';
import { M, OTHER_UUID, Status, count, counts, expectError, outOfEnum, seedTenant, startHarness, type DeepPartial, type Harness, type PartialRequest } from './harness';

type MessageInput = DeepPartial<metadataV1.MessageInput>;

let h: Harness;
let t: Awaited<ReturnType<typeof seedTenant>>;
let other: Awaited<ReturnType<typeof seedTenant>>;

beforeAll(async () => {
  h = await startHarness({ pageSizeMax: 100, batchRecordMax: 50 });
  t = await seedTenant(h, 'Acme');
  other = await seedTenant(h, 'Globex');
});
afterAll(() => h.stop());

const msg = (over: MessageInput = {}): MessageInput => ({
  emailAccountId: t.mailboxId,
  campaignId: '',
  leadId: '',
  sequenceStepId: '',
  parentMessageId: '',
  direction: M.Direction.DIRECTION_OUTBOUND,
  messageType: M.MessageType.MESSAGE_TYPE_EMAIL,
  fromEmail: 'sales@acme.example',
  toEmail: 'jane@acme-lead.example',
  subject: 'Hello',
  status: 0,
  contentStorageKey: '',
  providerMessageId: `<${randomUUID()}@mail.acme.example>`,
  clientKey: '',
  ...over,
});

describe('RecordMessage', () => {
  it('records a ref with defaults and returns it', async () => {
    const res = await h.rpc('recordMessage', { tenantId: t.tenantId, message: msg({ campaignId: t.campaignId, leadId: t.leadId }) });
    expect(res.created).toBe(true);
    expect(res.message).toMatchObject({ tenantId: t.tenantId, status: M.MessageStatus.MESSAGE_STATUS_SENT, campaignId: t.campaignId, subject: 'Hello' });
    const got = await h.rpc('getMessage', { tenantId: t.tenantId, messageId: res.message!.id });
    expect(got.message!.id).toBe(res.message!.id);
  });

  it('is idempotent under concurrent duplicate calls: one row, one event', async () => {
    const key = `<dup-${randomUUID()}@mail.example>`;
    const before = await counts(h.pool);
    const results = await Promise.all(Array.from({ length: 12 }, () => h.rpc('recordMessage', { tenantId: t.tenantId, message: msg({ providerMessageId: key }) })));
    const ids = new Set(results.map((r) => r.message!.id));
    expect(ids.size).toBe(1);
    expect(results.filter((r) => r.created)).toHaveLength(1);
    const after = await counts(h.pool);
    expect(after.inbox_message_refs - before.inbox_message_refs).toBe(1);
    expect(after.outbox_events - before.outbox_events).toBe(1);
  });

  it('client_key works as the idempotency key too', async () => {
    const clientKey = `ck-${randomUUID()}`;
    const a = await h.rpc('recordMessage', { tenantId: t.tenantId, message: msg({ providerMessageId: '', clientKey }) });
    const b = await h.rpc('recordMessage', { tenantId: t.tenantId, message: msg({ providerMessageId: '', clientKey }) });
    expect(b.message!.id).toBe(a.message!.id);
    expect(b.created).toBe(false);
  });

  const bad: [string, MessageInput, string][] = [
    ['invalid mailbox uuid', { emailAccountId: 'not-a-uuid' }, 'message.email_account_id'],
    ['from_email not an email', { fromEmail: 'nope' }, 'message.from_email'],
    ['to_email over 254', { toEmail: `${'a'.repeat(250)}@example.com` }, 'message.to_email'],
    ['subject over 500', { subject: 's'.repeat(501) }, 'message.subject'],
    ['unknown direction', { direction: outOfEnum(42) }, 'message.direction'],
    ['unknown message type', { messageType: outOfEnum(9) }, 'message.message_type'],
    ['unknown status', { status: outOfEnum(77) }, 'message.status'],
    ['inbound recorded as sent', { direction: M.Direction.DIRECTION_INBOUND, status: M.MessageStatus.MESSAGE_STATUS_SENT }, 'message.status'],
    ['no idempotency key', { providerMessageId: '', clientKey: '' }, 'message.provider_message_id'],
  ];
  it.each(bad)('%s → INVALID_ARGUMENT naming the field, nothing written', async (_name, over, field) => {
    const before = await counts(h.pool);
    await expectError(h.rpc('recordMessage', { tenantId: t.tenantId, message: msg(over) }), Status.INVALID_ARGUMENT, field);
    expect(await counts(h.pool)).toEqual(before);
  });

  it('invalid tenant id → INVALID_ARGUMENT on tenant_id', async () => {
    await expectError(h.rpc('recordMessage', { tenantId: 'x', message: msg() }), Status.INVALID_ARGUMENT, 'tenant_id');
  });

  const foreign: [string, () => MessageInput][] = [
    ['mailbox', () => ({ emailAccountId: other.mailboxId })],
    ['campaign', () => ({ campaignId: other.campaignId })],
    ['lead', () => ({ leadId: other.leadId })],
    ['unknown parent', () => ({ parentMessageId: OTHER_UUID })],
  ];
  it.each(foreign)("another tenant's %s → NOT_FOUND, nothing written", async (_name, over) => {
    const before = await counts(h.pool);
    await expectError(h.rpc('recordMessage', { tenantId: t.tenantId, message: msg(over()) }), Status.NOT_FOUND);
    expect(await counts(h.pool)).toEqual(before);
  });
});

describe('BatchRecordMessages', () => {
  it('records a batch, duplicates inside and across batches give the same ref', async () => {
    const k = `<batch-${randomUUID()}>`;
    const res = await h.rpc('batchRecordMessages', {
      tenantId: t.tenantId,
      messages: [msg({ providerMessageId: k }), msg(), msg({ providerMessageId: k })],
    });
    expect(res.results).toHaveLength(3);
    expect(res.results[0].message!.id).toBe(res.results[2].message!.id);
    expect(res.results.map((r: { created: boolean }) => r.created)).toEqual([true, true, false]);
    const again = await h.rpc('batchRecordMessages', { tenantId: t.tenantId, messages: [msg({ providerMessageId: k })] });
    expect(again.results[0]).toMatchObject({ created: false, message: { id: res.results[0].message!.id } });
  });

  it('one bad item → INVALID_ARGUMENT naming messages[i], nothing written', async () => {
    const before = await counts(h.pool);
    await expectError(
      h.rpc('batchRecordMessages', { tenantId: t.tenantId, messages: [msg(), msg({ subject: 'x'.repeat(600) })] }),
      Status.INVALID_ARGUMENT,
      'messages[1].subject',
    );
    expect(await counts(h.pool)).toEqual(before);
  });

  it('over the batch maximum → INVALID_ARGUMENT on messages', async () => {
    await expectError(h.rpc('batchRecordMessages', { tenantId: t.tenantId, messages: Array.from({ length: 51 }, () => msg()) }), Status.INVALID_ARGUMENT, 'messages');
  });
});

describe('ListMessages', () => {
  it('filters, newest first, and pages without duplicates or skips under concurrent inserts', async () => {
    const { tenant } = await h.rpc('createTenant', { tenantId: '', name: 'Pager' });
    const { emailAccount } = await h.rpc('createEmailAccount', { tenantId: tenant!.id, email: 'p@pager.example', provider: 3 });
    const base = (over: MessageInput = {}) => msg({ emailAccountId: emailAccount!.id, fromEmail: 'p@pager.example', ...over });
    const initial = new Set<string>();
    for (let b = 0; b < 5; b++) {
      const res = await h.rpc('batchRecordMessages', { tenantId: tenant!.id, messages: Array.from({ length: 25 }, () => base()) });
      for (const r of res.results) initial.add(r.message!.id);
    }
    let inserting = true;
    const writer = (async () => {
      while (inserting) await h.rpc('recordMessage', { tenantId: tenant!.id, message: base() });
    })();
    const seen: string[] = [];
    let token = '';
    let pages = 0;
    let lastCreated = Infinity;
    do {
      const res = await h.rpc('listMessages', { tenantId: tenant!.id, page: { pageSize: 10, pageToken: token } });
      for (const m of res.messages) {
        expect(m.created!.getTime()).toBeLessThanOrEqual(lastCreated);
        lastCreated = m.created!.getTime();
        seen.push(m.id);
      }
      token = res.page!.nextPageToken;
      pages++;
      await new Promise((r) => setTimeout(r, 5));
    } while (token && pages < 100);
    inserting = false;
    await writer;
    expect(new Set(seen).size).toBe(seen.length);
    for (const id of initial) expect(seen).toContain(id);
  });

  it('combines filters (campaign, lead, direction, status, processed, created and updated ranges)', async () => {
    const r = await h.rpc('recordMessage', { tenantId: t.tenantId, message: msg({ campaignId: t.campaignId, leadId: t.leadId, direction: M.Direction.DIRECTION_INBOUND, messageType: M.MessageType.MESSAGE_TYPE_AUTO_REPLY }) });
    const id = r.message!.id;
    const q = (over: PartialRequest<'listMessages'>) => h.rpc('listMessages', { tenantId: t.tenantId, ...over }).then((x) => x.messages.map((m: { id: string }) => m.id));
    expect(await q({ campaignId: t.campaignId, direction: M.Direction.DIRECTION_INBOUND })).toContain(id);
    expect(await q({ leadId: t.leadId, messageType: M.MessageType.MESSAGE_TYPE_AUTO_REPLY, status: M.MessageStatus.MESSAGE_STATUS_RECEIVED })).toContain(id);
    expect(await q({ emailAccountId: t.mailboxId, processed: false })).toContain(id);
    expect(await q({ processed: true })).not.toContain(id);
    expect(await q({ created: { start: new Date(Date.now() - 60_000), end: new Date(Date.now() + 60_000) } })).toContain(id);
    expect(await q({ created: { end: new Date(Date.now() - 3600_000) } })).not.toContain(id);
    // `updated`: the mark below moves it past `before`, so only then does "changed since" list the ref.
    const before = new Date();
    await new Promise((r) => setTimeout(r, 5));
    expect(await q({ updated: { start: before } })).not.toContain(id);
    expect(await q({ updated: { end: before } })).toContain(id);
    await h.rpc('markProcessed', { tenantId: t.tenantId, messageId: id });
    expect(await q({ updated: { start: before } })).toEqual([id]);
    expect(await q({ updated: { end: before } })).not.toContain(id);
    expect(await q({ campaignId: t.campaignId, processed: false })).not.toContain(id);
    expect(await q({ campaignId: t.campaignId, processed: true })).toContain(id);
    // Another tenant sees none of it.
    expect(await h.rpc('listMessages', { tenantId: other.tenantId, campaignId: t.campaignId }).then((x) => x.messages)).toEqual([]);
  });

  it('page size over the maximum, a tampered token, a token of other filters → INVALID_ARGUMENT', async () => {
    await expectError(h.rpc('listMessages', { tenantId: t.tenantId, page: { pageSize: 101 } }), Status.INVALID_ARGUMENT, 'page.page_size');
    const first = await h.rpc('listMessages', { tenantId: t.tenantId, page: { pageSize: 1 } });
    const token: string = first.page!.nextPageToken;
    expect(token).not.toBe('');
    const tampered = (token[0] === 'A' ? 'B' : 'A') + token.slice(1);
    await expectError(h.rpc('listMessages', { tenantId: t.tenantId, page: { pageSize: 1, pageToken: tampered } }), Status.INVALID_ARGUMENT, 'page.page_token');
    await expectError(
      h.rpc('listMessages', { tenantId: t.tenantId, status: M.MessageStatus.MESSAGE_STATUS_SENT, page: { pageSize: 1, pageToken: token } }),
      Status.INVALID_ARGUMENT,
      'page.page_token',
    );
    await expectError(h.rpc('listMessages', { tenantId: other.tenantId, page: { pageSize: 1, pageToken: token } }), Status.INVALID_ARGUMENT, 'page.page_token');
    await expectError(h.rpc('listMessages', { tenantId: t.tenantId, status: outOfEnum(99) }), Status.INVALID_ARGUMENT, 'status');
    await expectError(h.rpc('listMessages', { tenantId: t.tenantId, campaignId: 'zzz' }), Status.INVALID_ARGUMENT, 'campaign_id');
  });
});

describe('GetThread, UpdateMessageStatus, MarkProcessed', () => {
  it('returns the parent chain and replies, oldest first', async () => {
    const root = await h.rpc('recordMessage', { tenantId: t.tenantId, message: msg() });
    const reply = await h.rpc('recordMessage', { tenantId: t.tenantId, message: msg({ direction: 1, parentMessageId: root.message!.id }) });
    const reply2 = await h.rpc('recordMessage', { tenantId: t.tenantId, message: msg({ parentMessageId: reply.message!.id }) });
    const sibling = await h.rpc('recordMessage', { tenantId: t.tenantId, message: msg({ direction: 1, parentMessageId: root.message!.id }) });
    const th = await h.rpc('getThread', { tenantId: t.tenantId, messageId: reply2.message!.id });
    expect(th.rootMessageId).toBe(root.message!.id);
    expect(th.messages.map((m: { id: string }) => m.id)).toEqual([root.message!.id, reply.message!.id, reply2.message!.id, sibling.message!.id]);
    await expectError(h.rpc('getThread', { tenantId: other.tenantId, messageId: reply2.message!.id }), Status.NOT_FOUND);
  });

  it('allows only valid status transitions and emits an event per change', async () => {
    const r = await h.rpc('recordMessage', { tenantId: t.tenantId, message: msg({ status: M.MessageStatus.MESSAGE_STATUS_QUEUED }) });
    const id = r.message!.id;
    const before = await count(h.pool, 'outbox_events');
    const up = (s: number, tenantId = t.tenantId) => h.rpc('updateMessageStatus', { tenantId, messageId: id, status: s });
    expect((await up(M.MessageStatus.MESSAGE_STATUS_SENT)).message!.status).toBe(M.MessageStatus.MESSAGE_STATUS_SENT);
    expect((await up(M.MessageStatus.MESSAGE_STATUS_SENT)).message!.status).toBe(M.MessageStatus.MESSAGE_STATUS_SENT); // no-op
    await up(M.MessageStatus.MESSAGE_STATUS_OPENED);
    expect(await count(h.pool, 'outbox_events')).toBe(before + 2);
    await expectError(up(M.MessageStatus.MESSAGE_STATUS_DELIVERED), Status.FAILED_PRECONDITION);
    await expectError(up(M.MessageStatus.MESSAGE_STATUS_QUEUED), Status.FAILED_PRECONDITION);
    await expectError(up(0), Status.INVALID_ARGUMENT, 'status');
    await expectError(up(M.MessageStatus.MESSAGE_STATUS_CLICKED, other.tenantId), Status.NOT_FOUND);
    expect(await count(h.pool, 'outbox_events')).toBe(before + 2);
    expect((await h.rpc('getMessage', { tenantId: t.tenantId, messageId: id })).message!.status).toBe(M.MessageStatus.MESSAGE_STATUS_OPENED);
  });

  it('MarkProcessed sets processed once', async () => {
    const r = await h.rpc('recordMessage', { tenantId: t.tenantId, message: msg() });
    const at = new Date('2026-01-02T03:04:05Z');
    const a = await h.rpc('markProcessed', { tenantId: t.tenantId, messageId: r.message!.id, processed: at });
    expect(a.message!.processed!.toISOString()).toBe(at.toISOString());
    const b = await h.rpc('markProcessed', { tenantId: t.tenantId, messageId: r.message!.id });
    expect(b.message!.processed!.toISOString()).toBe(at.toISOString());
    await expectError(h.rpc('markProcessed', { tenantId: other.tenantId, messageId: r.message!.id }), Status.NOT_FOUND);
    await expectError(h.rpc('getMessage', { tenantId: t.tenantId, messageId: 'bad' }), Status.INVALID_ARGUMENT, 'message_id');
  });
});
