// ImportMessages: another system's history at its own times, as one catch-up-able batch.
import { randomUUID } from 'node:crypto';
import { commonV1, type metadataV1 } from '@penguinmails/contracts';
import { M, Status, expectError, seedTenant, snapshot, startHarness, type DeepPartial, type Harness } from './harness';

let h: Harness;
let t: Awaited<ReturnType<typeof seedTenant>>;
let other: Awaited<ReturnType<typeof seedTenant>>;

beforeAll(async () => {
  h = await startHarness({ batchRecordMax: 20 });
  t = await seedTenant(h, 'Acme');
  other = await seedTenant(h, 'Globex');
});
afterAll(() => h.stop());

const sentAt = new Date('2025-03-14T09:26:53.589Z');
const repliedAt = new Date('2025-04-02T17:00:00.000Z');
const imported = (over: DeepPartial<metadataV1.MessageInput> = {}, times: { created?: Date; processed?: Date } = { created: sentAt }): DeepPartial<metadataV1.ImportedMessage> => ({
  message: {
    emailAccountId: t.mailboxId, campaignId: t.campaignId, leadId: t.leadId, direction: M.Direction.DIRECTION_OUTBOUND,
    fromEmail: 'sales@acme.example', toEmail: 'jane@acme-lead.example', subject: 'Hello', status: M.MessageStatus.MESSAGE_STATUS_OPENED,
    providerMessageId: `<${randomUUID()}@legacy.example>`, clientKey: randomUUID(), ...over,
  },
  ...times,
});

/** The MessageRecorded / MessageStatusChanged payloads written to the outbox since `since`. */
async function events(since: Date) {
  const { rows } = await h.pool.query<{ event_type: string; payload: Buffer }>('select event_type, payload from outbox_events where created >= $1 order by created', [since]);
  return rows.map((r) => ({ type: r.event_type.split('.').pop(), env: commonV1.EventEnvelope.decode(r.payload) }));
}

describe('ImportMessages', () => {
  it('keeps original created, processed and any status; the reply leaves its parent as imported; MessageRecorded carries the original time', async () => {
    const since = new Date();
    const out = imported({ subject: 'Intro' }, { created: sentAt, processed: new Date(sentAt.getTime() + 60_000) });
    const first = await h.rpc('importMessages', { tenantId: t.tenantId, messages: [out] });
    const parent = first.results[0].message!;
    expect(first.results[0].created).toBe(true);
    expect(parent).toMatchObject({ status: M.MessageStatus.MESSAGE_STATUS_OPENED, created: sentAt, updated: sentAt, processed: new Date(sentAt.getTime() + 60_000), clientKey: out.message!.clientKey });
    const reply = imported(
      { direction: M.Direction.DIRECTION_INBOUND, status: M.MessageStatus.MESSAGE_STATUS_RECEIVED, parentMessageId: parent.id, fromEmail: 'jane@acme-lead.example', toEmail: 'sales@acme.example' },
      { created: repliedAt },
    );
    const r = await h.rpc('importMessages', { tenantId: t.tenantId, messages: [reply] });
    expect(r.results[0].message).toMatchObject({ created: repliedAt, parentMessageId: parent.id, status: M.MessageStatus.MESSAGE_STATUS_RECEIVED });
    expect((await h.rpc('getMessage', { tenantId: t.tenantId, messageId: parent.id })).message!.status).toBe(M.MessageStatus.MESSAGE_STATUS_OPENED);
    // The lead effect applies as for RecordMessage.
    expect((await h.rpc('getLead', { tenantId: t.tenantId, leadId: t.leadId })).lead!.status).toBe(M.LeadStatus.LEAD_STATUS_REPLIED);
    const ev = await events(since);
    expect(ev.map((e) => e.type)).toEqual(['MessageRecorded', 'MessageRecorded']);
    const recorded = ev.map((e) => M.MessageRecorded.decode(e.env.payload).message!);
    expect(recorded.map((m) => m.created)).toEqual([sentAt, repliedAt]);
  });

  it('a repeat changes nothing; a known client_key with new values is a catch-up update without events', async () => {
    const a = imported();
    await h.rpc('importMessages', { tenantId: t.tenantId, messages: [a] });
    const before = await snapshot(h.pool);
    const again = await h.rpc('importMessages', { tenantId: t.tenantId, messages: [a, a] });
    expect(again.results.map((x) => x.created)).toEqual([false, false]);
    expect(await snapshot(h.pool)).toEqual(before);

    const since = new Date();
    const key = `${t.tenantId}/legacy/${randomUUID()}/v2`;
    const changed = { ...a, message: { ...a.message, status: M.MessageStatus.MESSAGE_STATUS_CLICKED, subject: 'Edited', contentStorageKey: key } };
    const up = await h.rpc('importMessages', { tenantId: t.tenantId, messages: [changed] });
    expect(up.results[0]).toMatchObject({ created: false, message: { status: M.MessageStatus.MESSAGE_STATUS_CLICKED, subject: 'Edited', contentStorageKey: key, created: sentAt } });
    expect(up.results[0].message!.contentState).toBe(M.ContentState.CONTENT_STATE_PENDING);
    expect(await events(since)).toEqual([]);
  });

  it('keeps a given id; a repeat finds it by client_key; an id held by another ref (any tenant) is ALREADY_EXISTS with nothing written', async () => {
    const id = randomUUID();
    const a = { ...imported(), id };
    const first = await h.rpc('importMessages', { tenantId: t.tenantId, messages: [a] });
    expect(first.results[0]).toMatchObject({ created: true, message: { id, clientKey: a.message!.clientKey } });
    expect((await h.rpc('getMessage', { tenantId: t.tenantId, messageId: id })).message!.created).toEqual(sentAt);
    // A reply names its parent by the kept id.
    const reply = { ...imported({ direction: M.Direction.DIRECTION_INBOUND, status: M.MessageStatus.MESSAGE_STATUS_RECEIVED, parentMessageId: id, fromEmail: 'jane@acme-lead.example', toEmail: 'sales@acme.example' }), id: randomUUID() };
    expect((await h.rpc('importMessages', { tenantId: t.tenantId, messages: [reply] })).results[0].message).toMatchObject({ id: reply.id, parentMessageId: id });
    const before = await snapshot(h.pool);
    // The same client_key again (even with another id): the known ref, unchanged.
    const again = await h.rpc('importMessages', { tenantId: t.tenantId, messages: [a, { ...a, id: randomUUID() }] });
    expect(again.results.map((r) => [r.created, r.message!.id])).toEqual([[false, id], [false, id]]);
    // The id for another message: this tenant's or another's, refused without naming the holder.
    const refused = async (tenantId: string, messages: DeepPartial<metadataV1.ImportedMessage>[]) => {
      const err = await h.rpc('importMessages', { tenantId, messages }).then(() => undefined, (e: Error & { code: number; details: string }) => e);
      expect(err?.code).toBe(Status.ALREADY_EXISTS);
      return err!.details;
    };
    const mine = await refused(t.tenantId, [imported(), { ...imported(), id }]);
    expect(mine).toContain(`messages[1].id ${id} is already the id of another message`);
    expect(mine).not.toContain(a.message!.clientKey!);
    const theirs = await refused(other.tenantId, [{ ...imported({ emailAccountId: other.mailboxId, campaignId: '', leadId: '' }), id }]);
    expect(theirs).toContain('messages[0].id');
    expect(theirs).not.toContain(t.tenantId);
    expect(await snapshot(h.pool)).toEqual(before);
  });

  it('bad input is INVALID_ARGUMENT naming the field, with nothing written', async () => {
    const before = await snapshot(h.pool);
    const cases: [DeepPartial<metadataV1.ImportedMessage>, string][] = [
      [imported({ clientKey: '' }), 'messages[0].message.client_key'],
      [{ message: imported().message }, 'messages[0].created'],
      [imported({}, { created: new Date('1999-12-31T00:00:00Z') }), 'messages[0].created'],
      [imported({}, { created: new Date(Date.now() + 3_600_000) }), 'messages[0].created'],
      [imported({}, { created: sentAt, processed: new Date(sentAt.getTime() - 1000) }), 'messages[0].processed'],
      [imported({ status: M.MessageStatus.MESSAGE_STATUS_RECEIVED }), 'messages[0].message.status'],
      [imported({ direction: M.Direction.DIRECTION_INBOUND, status: M.MessageStatus.MESSAGE_STATUS_REPLIED }), 'messages[0].message.status'],
      [imported({ inReplyTo: '<x@y>' }), 'messages[0].message.in_reply_to'],
      [imported({ toEmail: 'not an address' }), 'messages[0].message.to_email'],
      [imported({ contentStorageKey: `${other.tenantId}/legacy/x` }), 'messages[0].message.content_storage_key'],
      [{ ...imported(), id: 'not-a-uuid' }, 'messages[0].id'],
    ];
    for (const [m, field] of cases) await expectError(h.rpc('importMessages', { tenantId: t.tenantId, messages: [m] }), Status.INVALID_ARGUMENT, field);
    await expectError(h.rpc('importMessages', { tenantId: t.tenantId, messages: [] }), Status.INVALID_ARGUMENT, 'messages');
    await expectError(h.rpc('importMessages', { tenantId: t.tenantId, messages: Array.from({ length: 21 }, () => imported()) }), Status.INVALID_ARGUMENT, 'messages');
    const shared = randomUUID();
    await expectError(h.rpc('importMessages', { tenantId: t.tenantId, messages: [{ ...imported(), id: shared }, { ...imported(), id: shared }] }), Status.INVALID_ARGUMENT, 'messages[1].id');
    // One bad message of two: nothing of the batch is written.
    await expectError(h.rpc('importMessages', { tenantId: t.tenantId, messages: [imported(), imported({ subject: 'x'.repeat(501) })] }), Status.INVALID_ARGUMENT, 'messages[1].message.subject');
    expect(await snapshot(h.pool)).toEqual(before);
  });

  it("another tenant's references are NOT_FOUND, a taken provider_message_id ALREADY_EXISTS; nothing written", async () => {
    const taken = imported();
    await h.rpc('importMessages', { tenantId: t.tenantId, messages: [taken] });
    const before = await snapshot(h.pool);
    await expectError(h.rpc('importMessages', { tenantId: t.tenantId, messages: [imported({ emailAccountId: other.mailboxId })] }), Status.NOT_FOUND);
    await expectError(h.rpc('importMessages', { tenantId: t.tenantId, messages: [imported({ campaignId: other.campaignId })] }), Status.NOT_FOUND);
    await expectError(h.rpc('importMessages', { tenantId: t.tenantId, messages: [imported({ providerMessageId: taken.message!.providerMessageId })] }), Status.ALREADY_EXISTS);
    expect(await snapshot(h.pool)).toEqual(before);
    // The same client_key in another tenant is that tenant's own ref: the first one is untouched.
    const mine = await h.rpc('getMessage', { tenantId: t.tenantId, messageId: (await h.rpc('importMessages', { tenantId: t.tenantId, messages: [taken] })).results[0].message!.id });
    const theirs = await h.rpc('importMessages', { tenantId: other.tenantId, messages: [imported({ emailAccountId: other.mailboxId, campaignId: '', leadId: '', subject: 'Theirs', clientKey: taken.message!.clientKey })] });
    expect(theirs.results[0].created).toBe(true);
    expect((await h.rpc('getMessage', { tenantId: t.tenantId, messageId: mine.message!.id })).message).toEqual(mine.message);
  });
});
