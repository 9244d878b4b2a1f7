import { randomUUID } from 'node:crypto';
import type { metadataV1 } from '@penguinmails/contracts';
import { M, Status, count, expectError, outOfEnum, seedTenant, snapshot, startHarness, type DeepPartial, type Harness, type Seed } from './harness';

// Issue 8, RecordMessage side: reply linking by In-Reply-To / References, what an inbound
// reply or bounce does to its parent, lead and mailbox, and the content_storage_key prefix.

type MessageInput = DeepPartial<metadataV1.MessageInput>;
const S = M.MessageStatus;
const L = M.LeadStatus;
const BOUNCE = M.MessageType.MESSAGE_TYPE_BOUNCE;
const HARD = 1;
const SOFT = 2;

let h: Harness;
let t: Seed;
let other: Seed;

beforeAll(async () => {
  h = await startHarness();
  t = await seedTenant(h, 'Acme');
  other = await seedTenant(h, 'Globex');
});
afterAll(() => h.stop());

const mid = () => `<${randomUUID()}@mail.example>`;

/** An outbound message of `s` to a fresh lead; returns its ref, Message-ID and lead. */
async function sent(s: Seed = t, over: MessageInput = {}) {
  const { lead } = await h.rpc('createLead', { tenantId: s.tenantId, lead: { email: `${randomUUID()}@lead.example` } });
  const providerMessageId = mid();
  const { message } = await h.rpc('recordMessage', {
    tenantId: s.tenantId,
    message: { emailAccountId: s.mailboxId, campaignId: s.campaignId, leadId: lead!.id, direction: M.Direction.DIRECTION_OUTBOUND, fromEmail: 'sales@acme.example', toEmail: lead!.email, providerMessageId, ...over },
  });
  return { ref: message!, providerMessageId, leadId: lead!.id };
}

const inbound = (s: Seed, over: MessageInput): MessageInput => ({
  emailAccountId: s.mailboxId,
  direction: M.Direction.DIRECTION_INBOUND,
  fromEmail: 'jane@lead.example',
  toEmail: 'sales@acme.example',
  providerMessageId: mid(),
  ...over,
});

const status = async (id: string, s: Seed = t) => (await h.rpc('getMessage', { tenantId: s.tenantId, messageId: id })).message!;
const leadStatus = async (id: string, s: Seed = t) => (await h.rpc('getLead', { tenantId: s.tenantId, leadId: id })).lead!.status;
const bounces = async (s: Seed = t) => (await h.rpc('getEmailAccount', { tenantId: s.tenantId, emailAccountId: s.mailboxId })).emailAccount!.hardBounceCount;

describe('reply linking', () => {
  it('in_reply_to links the parent and inherits its campaign and lead', async () => {
    const p = await sent();
    const r = await h.rpc('recordMessage', { tenantId: t.tenantId, message: inbound(t, { inReplyTo: p.providerMessageId }) });
    expect(r.message).toMatchObject({ parentMessageId: p.ref.id, campaignId: t.campaignId, leadId: p.leadId });
  });

  it('without in_reply_to (or not found), the last known of references', async () => {
    const a = await sent();
    const b = await sent();
    const r = await h.rpc('recordMessage', {
      tenantId: t.tenantId,
      message: inbound(t, { inReplyTo: '<unknown@x>', references: [a.providerMessageId, b.providerMessageId, '<also-unknown@x>'] }),
    });
    expect(r.message!.parentMessageId).toBe(b.ref.id);
  });

  it('an explicit parent_message_id wins; names the message gives are kept', async () => {
    const a = await sent();
    const b = await sent();
    const r = await h.rpc('recordMessage', { tenantId: t.tenantId, message: inbound(t, { parentMessageId: a.ref.id, inReplyTo: b.providerMessageId }) });
    expect(r.message!.parentMessageId).toBe(a.ref.id);
    const r2 = await h.rpc('recordMessage', { tenantId: t.tenantId, message: inbound(t, { inReplyTo: b.providerMessageId, leadId: t.leadId }) });
    expect(r2.message).toMatchObject({ parentMessageId: b.ref.id, leadId: t.leadId, campaignId: t.campaignId });
  });

  it('nothing found: recorded without a parent, not an error', async () => {
    const r = await h.rpc('recordMessage', { tenantId: t.tenantId, message: inbound(t, { inReplyTo: '<nobody@x>', references: ['<nor@x>'] }) });
    expect(r).toMatchObject({ created: true, message: { parentMessageId: '', campaignId: '', leadId: '' } });
  });

  it("another tenant's message with that Message-ID is not linked and not changed", async () => {
    const theirs = await sent(other);
    const before = await status(theirs.ref.id, other);
    const r = await h.rpc('recordMessage', { tenantId: t.tenantId, message: inbound(t, { inReplyTo: theirs.providerMessageId }) });
    expect(r.message).toMatchObject({ parentMessageId: '', campaignId: '', leadId: '' });
    expect(await status(theirs.ref.id, other)).toEqual(before);
    expect(await leadStatus(theirs.leadId, other)).toBe(L.LEAD_STATUS_NEW);
  });

  it('batches link each item (one query for all)', async () => {
    const a = await sent();
    const b = await sent();
    const res = await h.rpc('batchRecordMessages', {
      tenantId: t.tenantId,
      messages: [inbound(t, { inReplyTo: a.providerMessageId }), inbound(t, {}), inbound(t, { references: [b.providerMessageId] })],
    });
    expect(res.results.map((x) => x.message!.parentMessageId)).toEqual([a.ref.id, '', b.ref.id]);
  });

  const bad: [string, MessageInput, string][] = [
    ['in_reply_to over 998', { inReplyTo: `<${'a'.repeat(998)}>` }, 'message.in_reply_to'],
    ['101 references', { references: Array.from({ length: 101 }, (_, i) => `<r${i}@x>`) }, 'message.references'],
    ['a reference over 998', { references: ['<ok@x>', `<${'b'.repeat(998)}>`] }, 'message.references[1]'],
    ['bounce_type on an email', { bounceType: HARD }, 'message.bounce_type'],
    ['unknown bounce_type', { messageType: BOUNCE, bounceType: outOfEnum(7) }, 'message.bounce_type'],
    ['content key of no tenant', { contentStorageKey: 'content/abc' }, 'message.content_storage_key'],
    ['content key with a space', { contentStorageKey: 'a b' }, 'message.content_storage_key'],
  ];
  it.each(bad)('%s → INVALID_ARGUMENT naming the field, nothing written', async (_what, over, field) => {
    const before = await snapshot(h.pool);
    await expectError(h.rpc('recordMessage', { tenantId: t.tenantId, message: inbound(t, over) }), Status.INVALID_ARGUMENT, field);
    expect(await snapshot(h.pool)).toEqual(before);
  });

  it("a content key of another tenant → INVALID_ARGUMENT on message.content_storage_key; the tenant's own key is taken (PENDING)", async () => {
    const before = await snapshot(h.pool);
    await expectError(
      h.rpc('recordMessage', { tenantId: t.tenantId, message: inbound(t, { contentStorageKey: `${other.tenantId}/2026/01/x` }) }),
      Status.INVALID_ARGUMENT,
      'message.content_storage_key',
    );
    await expectError(
      h.rpc('batchRecordMessages', { tenantId: t.tenantId, messages: [inbound(t, {}), inbound(t, { contentStorageKey: `${t.tenantId}/` })] }),
      Status.INVALID_ARGUMENT,
      'messages[1].content_storage_key',
    );
    expect(await snapshot(h.pool)).toEqual(before);
    const ok = await h.rpc('recordMessage', { tenantId: t.tenantId, message: inbound(t, { contentStorageKey: `${t.tenantId}/2026/01/${randomUUID()}` }) });
    expect(ok.message!.contentState).toBe(M.ContentState.CONTENT_STATE_PENDING);
    const none = await h.rpc('recordMessage', { tenantId: t.tenantId, message: inbound(t, {}) });
    expect(none.message!.contentState).toBe(M.ContentState.CONTENT_STATE_UNSPECIFIED);
  });
});

describe('inbound effects', () => {
  it('a reply moves the parent to replied (with MessageStatusChanged) and the lead to replied', async () => {
    const p = await sent();
    const events = await count(h.pool, 'outbox_events');
    await h.rpc('recordMessage', { tenantId: t.tenantId, message: inbound(t, { inReplyTo: p.providerMessageId }) });
    expect((await status(p.ref.id)).status).toBe(S.MESSAGE_STATUS_REPLIED);
    expect(await leadStatus(p.leadId)).toBe(L.LEAD_STATUS_REPLIED);
    const { rows } = await h.pool.query<{ event_type: string }>('select event_type from outbox_events order by created desc, event_type limit 2');
    expect(await count(h.pool, 'outbox_events')).toBe(events + 2);
    expect(rows.map((r) => r.event_type).sort()).toEqual(['penguinmails.metadata.v1.MessageRecorded', 'penguinmails.metadata.v1.MessageStatusChanged']);
  });

  it('a duplicate record of the reply has no second effect', async () => {
    const p = await sent();
    const reply = inbound(t, { inReplyTo: p.providerMessageId });
    await h.rpc('recordMessage', { tenantId: t.tenantId, message: reply });
    await h.rpc('updateLead', { tenantId: t.tenantId, leadId: p.leadId, status: L.LEAD_STATUS_CONTACTED });
    const before = await snapshot(h.pool);
    const again = await h.rpc('recordMessage', { tenantId: t.tenantId, message: reply });
    expect(again.created).toBe(false);
    expect(await snapshot(h.pool)).toEqual(before);
    expect(await leadStatus(p.leadId)).toBe(L.LEAD_STATUS_CONTACTED);
  });

  it('a hard bounce (also when unspecified) moves the parent and lead to bounced and counts one for the mailbox', async () => {
    const n = await bounces();
    for (const bounceType of [HARD, 0]) {
      const p = await sent();
      const r = await h.rpc('recordMessage', { tenantId: t.tenantId, message: inbound(t, { messageType: BOUNCE, bounceType, inReplyTo: p.providerMessageId }) });
      expect(r.message!.bounceType).toBe(HARD);
      expect((await status(p.ref.id)).status).toBe(S.MESSAGE_STATUS_BOUNCED);
      expect(await leadStatus(p.leadId)).toBe(L.LEAD_STATUS_BOUNCED);
    }
    expect(await bounces()).toBe(n + 2n);
  });

  it('a soft bounce and an auto reply change nothing', async () => {
    const n = await bounces();
    const p = await sent();
    const soft = await h.rpc('recordMessage', { tenantId: t.tenantId, message: inbound(t, { messageType: BOUNCE, bounceType: SOFT, inReplyTo: p.providerMessageId }) });
    expect(soft.message!.bounceType).toBe(SOFT);
    await h.rpc('recordMessage', { tenantId: t.tenantId, message: inbound(t, { messageType: M.MessageType.MESSAGE_TYPE_AUTO_REPLY, inReplyTo: p.providerMessageId }) });
    expect((await status(p.ref.id)).status).toBe(S.MESSAGE_STATUS_SENT);
    expect(await leadStatus(p.leadId)).toBe(L.LEAD_STATUS_NEW);
    expect(await bounces()).toBe(n);
  });

  it('a refused transition leaves the parent, but the lead and the count follow the rules', async () => {
    const p = await sent();
    await h.rpc('updateMessageStatus', { tenantId: t.tenantId, messageId: p.ref.id, status: S.MESSAGE_STATUS_OPENED });
    const n = await bounces();
    await h.rpc('recordMessage', { tenantId: t.tenantId, message: inbound(t, { messageType: BOUNCE, inReplyTo: p.providerMessageId }) });
    expect((await status(p.ref.id)).status).toBe(S.MESSAGE_STATUS_OPENED); // opened → bounced is not allowed
    expect(await leadStatus(p.leadId)).toBe(L.LEAD_STATUS_BOUNCED);
    expect(await bounces()).toBe(n + 1n);
  });

  it('lead statuses a reply or bounce keeps: interested stays on a reply, unsubscribed on both', async () => {
    const a = await sent();
    await h.rpc('updateLead', { tenantId: t.tenantId, leadId: a.leadId, status: L.LEAD_STATUS_INTERESTED });
    await h.rpc('recordMessage', { tenantId: t.tenantId, message: inbound(t, { inReplyTo: a.providerMessageId }) });
    expect(await leadStatus(a.leadId)).toBe(L.LEAD_STATUS_INTERESTED);
    const b = await sent();
    await h.rpc('updateLead', { tenantId: t.tenantId, leadId: b.leadId, status: L.LEAD_STATUS_UNSUBSCRIBED });
    await h.rpc('recordMessage', { tenantId: t.tenantId, message: inbound(t, { messageType: BOUNCE, inReplyTo: b.providerMessageId }) });
    expect(await leadStatus(b.leadId)).toBe(L.LEAD_STATUS_UNSUBSCRIBED);
    expect((await status(b.ref.id)).status).toBe(S.MESSAGE_STATUS_BOUNCED);
  });

  it('two replies to one parent in a batch: one transition, one event', async () => {
    const p = await sent();
    const before = await count(h.pool, 'outbox_events');
    await h.rpc('batchRecordMessages', {
      tenantId: t.tenantId,
      messages: [inbound(t, { inReplyTo: p.providerMessageId }), inbound(t, { references: [p.providerMessageId] })],
    });
    expect(await count(h.pool, 'outbox_events')).toBe(before + 3); // 2 MessageRecorded + 1 MessageStatusChanged
    expect((await status(p.ref.id)).status).toBe(S.MESSAGE_STATUS_REPLIED);
  });

  it('an outbound message with a parent has no effect', async () => {
    const p = await sent();
    await h.rpc('recordMessage', { tenantId: t.tenantId, message: { ...inbound(t, { inReplyTo: p.providerMessageId }), direction: M.Direction.DIRECTION_OUTBOUND } });
    expect((await status(p.ref.id)).status).toBe(S.MESSAGE_STATUS_SENT);
  });
});
