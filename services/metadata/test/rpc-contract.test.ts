import { randomUUID } from 'node:crypto';
import type { metadataV1 } from '@penguinmails/contracts';
import { M, OTHER_UUID, Status, expectError, outOfEnum, seedTenant, snapshot, startHarness, type DeepPartial, type Harness, type Method, type PartialRequest } from './harness';

// The project standard, RPC by RPC: bad input is INVALID_ARGUMENT naming the field and writes
// nothing; another tenant's id is NOT_FOUND and writes nothing. "Nothing" is checked with a
// digest of every row of every table (outbox_events included), so a stray UPDATE shows too.

let h: Harness;
let t: Seed;
let o: Seed;

type Seed = Awaited<ReturnType<typeof seed>>;

async function seed(name: string) {
  const s = await seedTenant(h, name);
  const { user } = await h.rpc('createUser', { tenantId: s.tenantId, email: `owner@${name.toLowerCase()}.example` });
  const { step } = await h.rpc('createSequenceStep', {
    tenantId: s.tenantId,
    campaignId: s.campaignId,
    stepNumber: 1,
    subjectTemplateKey: 'tpl/s1',
    bodyTemplateKey: 'tpl/b1',
  });
  const { message } = await h.rpc('recordMessage', { tenantId: s.tenantId, message: msgOf(s, { campaignId: s.campaignId, leadId: s.leadId, sequenceStepId: step!.id }) });
  return { ...s, userId: user!.id as string, stepId: step!.id as string, messageId: message!.id as string };
}

function msgOf(s: { mailboxId: string }, over: DeepPartial<metadataV1.MessageInput> = {}): DeepPartial<metadataV1.MessageInput> {
  return {
    emailAccountId: s.mailboxId,
    direction: M.Direction.DIRECTION_OUTBOUND,
    fromEmail: 'sales@acme.example',
    toEmail: 'jane@lead.example',
    providerMessageId: `<${randomUUID()}@mail.example>`,
    ...over,
  };
}

beforeAll(async () => {
  h = await startHarness({ pageSizeMax: 100 }, { authTokens: [] }, { content: true });
  t = await seed('Acme');
  o = await seed('Globex');
});
afterAll(() => h.stop());

const long = (n: number) => 'x'.repeat(n);
const tooBigStruct = { blob: long(17 * 1024) };

type Case = [rpc: Method, what: string, call: (t: Seed) => Promise<unknown>, field: string];

/** A bad-input case; its request is type-checked against the RPC's request type. */
function bad<M extends Method>(rpc: M, what: string, req: (t: Seed) => PartialRequest<M>, field: string): Case {
  return [rpc, what, (t) => h.rpc(rpc, req(t)), field];
}

const badInput: Case[] = [
  // Tenants
  bad('createTenant', 'malformed tenant_id', () => ({ tenantId: 'acme', name: 'x' }), 'tenant_id'),
  bad('createTenant', 'missing name', () => ({ name: '' }), 'name'),
  bad('getTenant', 'missing tenant_id', () => ({ tenantId: '' }), 'tenant_id'),
  bad('updateTenant', 'malformed tenant_id', () => ({ tenantId: 'acme', name: 'x' }), 'tenant_id'),
  bad('updateTenant', 'empty name', (t) => ({ tenantId: t.tenantId, name: '' }), 'name'),
  bad('updateTenant', 'name over 200', (t) => ({ tenantId: t.tenantId, name: long(201) }), 'name'),
  bad('updateTenant', 'unknown status (valid name)', (t) => ({ tenantId: t.tenantId, name: 'Renamed', status: outOfEnum(12) }), 'status'),
  // Users
  bad('createUser', 'malformed tenant_id', () => ({ tenantId: 'acme', email: 'a@x.example' }), 'tenant_id'),
  bad('createUser', 'missing email', (t) => ({ tenantId: t.tenantId, email: '' }), 'email'),
  bad('createUser', 'name over 200', (t) => ({ tenantId: t.tenantId, email: 'a@x.example', name: long(201) }), 'name'),
  bad('createUser', 'unknown status', (t) => ({ tenantId: t.tenantId, email: 'a@x.example', status: outOfEnum(9) }), 'status'),
  bad('getUser', 'malformed user_id', (t) => ({ tenantId: t.tenantId, userId: 'u-1' }), 'user_id'),
  bad('getUser', 'malformed tenant_id', (t) => ({ tenantId: 'acme', userId: t.userId }), 'tenant_id'),
  bad('updateUser', 'missing user_id', (t) => ({ tenantId: t.tenantId, userId: '', name: 'x' }), 'user_id'),
  bad('updateUser', 'bad email', (t) => ({ tenantId: t.tenantId, userId: t.userId, email: 'nope' }), 'email'),
  bad('updateUser', 'name over 200', (t) => ({ tenantId: t.tenantId, userId: t.userId, name: long(201) }), 'name'),
  bad('updateUser', 'unknown role (valid name)', (t) => ({ tenantId: t.tenantId, userId: t.userId, name: 'ok', role: outOfEnum(9) }), 'role'),
  bad('updateUser', 'unknown status (valid name)', (t) => ({ tenantId: t.tenantId, userId: t.userId, name: 'ok', status: outOfEnum(9) }), 'status'),
  bad('listUsers', 'malformed tenant_id', () => ({ tenantId: 'acme' }), 'tenant_id'),
  bad('listUsers', 'unknown status', (t) => ({ tenantId: t.tenantId, status: outOfEnum(9) }), 'status'),
  bad('listUsers', 'unknown role', (t) => ({ tenantId: t.tenantId, role: outOfEnum(9) }), 'role'),
  bad('listUsers', 'negative page size', (t) => ({ tenantId: t.tenantId, page: { pageSize: -1 } }), 'page.page_size'),
  bad('listUsers', 'forged page token', (t) => ({ tenantId: t.tenantId, page: { pageToken: 'garbage' } }), 'page.page_token'),
  bad('deleteUser', 'malformed user_id', (t) => ({ tenantId: t.tenantId, userId: 'u-1' }), 'user_id'),
  bad('deleteUser', 'malformed tenant_id', (t) => ({ tenantId: 'acme', userId: t.userId }), 'tenant_id'),
  // Email accounts
  bad('createEmailAccount', 'missing email', (t) => ({ tenantId: t.tenantId, email: '', provider: 1 }), 'email'),
  bad('createEmailAccount', 'unknown provider', (t) => ({ tenantId: t.tenantId, email: 'm@x.example', provider: outOfEnum(99) }), 'provider'),
  bad('createEmailAccount', 'display_name over 200', (t) => ({ tenantId: t.tenantId, email: 'm@x.example', provider: 1, displayName: long(201) }), 'display_name'),
  bad('createEmailAccount', 'daily_send_limit over 100000', (t) => ({ tenantId: t.tenantId, email: 'm@x.example', provider: 1, dailySendLimit: 100_001 }), 'daily_send_limit'),
  bad('createEmailAccount', 'unknown status', (t) => ({ tenantId: t.tenantId, email: 'm@x.example', provider: 1, status: outOfEnum(9) }), 'status'),
  bad('getEmailAccount', 'malformed email_account_id', (t) => ({ tenantId: t.tenantId, emailAccountId: 'mbox' }), 'email_account_id'),
  bad('updateEmailAccount', 'malformed email_account_id', (t) => ({ tenantId: t.tenantId, emailAccountId: 'mbox', displayName: 'x' }), 'email_account_id'),
  bad('updateEmailAccount', 'display_name over 200', (t) => ({ tenantId: t.tenantId, emailAccountId: t.mailboxId, displayName: long(201) }), 'display_name'),
  bad('updateEmailAccount', 'negative daily_send_limit', (t) => ({ tenantId: t.tenantId, emailAccountId: t.mailboxId, dailySendLimit: -1 }), 'daily_send_limit'),
  bad('updateEmailAccount', 'unknown status (valid name)', (t) => ({ tenantId: t.tenantId, emailAccountId: t.mailboxId, displayName: 'ok', status: outOfEnum(9) }), 'status'),
  bad('listEmailAccounts', 'unknown status', (t) => ({ tenantId: t.tenantId, status: outOfEnum(9) }), 'status'),
  bad('listEmailAccounts', 'unknown provider', (t) => ({ tenantId: t.tenantId, provider: outOfEnum(9) }), 'provider'),
  bad('listEmailAccounts', 'page size over max', (t) => ({ tenantId: t.tenantId, page: { pageSize: 101 } }), 'page.page_size'),
  // Leads
  bad('createLead', 'no lead at all', (t) => ({ tenantId: t.tenantId }), 'lead.email'),
  bad('createLead', 'first_name over 100', (t) => ({ tenantId: t.tenantId, lead: { email: 'l@x.example', firstName: long(101) } }), 'lead.first_name'),
  bad('createLead', 'company over 200', (t) => ({ tenantId: t.tenantId, lead: { email: 'l@x.example', company: long(201) } }), 'lead.company'),
  bad('createLead', 'custom_fields over 16 KiB', (t) => ({ tenantId: t.tenantId, lead: { email: 'l@x.example', customFields: tooBigStruct } }), 'lead.custom_fields'),
  bad('importLeads', 'empty list', (t) => ({ tenantId: t.tenantId, leads: [] }), 'leads'),
  bad('importLeads', 'malformed tenant_id', () => ({ tenantId: 'acme', leads: [{ email: 'l@x.example' }] }), 'tenant_id'),
  bad('importLeads', 'unknown status in row 2', (t) => ({ tenantId: t.tenantId, leads: [{ email: 'a@x.example' }, { email: 'b@x.example' }, { email: 'c@x.example', status: outOfEnum(40) }] }), 'leads[2].status'),
  bad('getLead', 'malformed lead_id', (t) => ({ tenantId: t.tenantId, leadId: 'lead-1' }), 'lead_id'),
  bad('updateLead', 'malformed lead_id', (t) => ({ tenantId: t.tenantId, leadId: 'lead-1', company: 'x' }), 'lead_id'),
  bad('updateLead', 'bad email', (t) => ({ tenantId: t.tenantId, leadId: t.leadId, email: 'nope' }), 'email'),
  bad('updateLead', 'last_name over 100', (t) => ({ tenantId: t.tenantId, leadId: t.leadId, lastName: long(101) }), 'last_name'),
  bad('updateLead', 'custom_fields over 16 KiB', (t) => ({ tenantId: t.tenantId, leadId: t.leadId, customFields: tooBigStruct }), 'custom_fields'),
  bad('updateLead', 'unknown status (valid company)', (t) => ({ tenantId: t.tenantId, leadId: t.leadId, company: 'ok', status: outOfEnum(40) }), 'status'),
  bad('listLeads', 'unknown status', (t) => ({ tenantId: t.tenantId, status: outOfEnum(40) }), 'status'),
  bad('listLeads', 'page size over max', (t) => ({ tenantId: t.tenantId, page: { pageSize: 101 } }), 'page.page_size'),
  bad('deleteLead', 'malformed lead_id', (t) => ({ tenantId: t.tenantId, leadId: 'lead-1' }), 'lead_id'),
  // Campaigns
  bad('createCampaign', 'name over 200', (t) => ({ tenantId: t.tenantId, name: long(201) }), 'name'),
  bad('createCampaign', 'window ends before it starts', (t) => ({ tenantId: t.tenantId, name: 'c', schedule: { timezone: 'UTC', windowStartMinute: 600, windowEndMinute: 500 } }), 'schedule.window_end_minute'),
  bad('createCampaign', 'send day 7', (t) => ({ tenantId: t.tenantId, name: 'c', schedule: { timezone: 'UTC', sendDays: [1, 7] } }), 'schedule.send_days'),
  bad('getCampaign', 'malformed campaign_id', (t) => ({ tenantId: t.tenantId, campaignId: 'c-1' }), 'campaign_id'),
  bad('updateCampaign', 'malformed campaign_id', (t) => ({ tenantId: t.tenantId, campaignId: 'c-1', name: 'x' }), 'campaign_id'),
  bad('updateCampaign', 'empty name', (t) => ({ tenantId: t.tenantId, campaignId: t.campaignId, name: '' }), 'name'),
  bad('updateCampaign', 'unknown time zone (valid name)', (t) => ({ tenantId: t.tenantId, campaignId: t.campaignId, name: 'ok', schedule: { timezone: 'Mars/Olympus' } }), 'schedule.timezone'),
  bad('updateCampaignStatus', 'missing status', (t) => ({ tenantId: t.tenantId, campaignId: t.campaignId, status: 0 }), 'status'),
  bad('updateCampaignStatus', 'unknown status', (t) => ({ tenantId: t.tenantId, campaignId: t.campaignId, status: outOfEnum(99) }), 'status'),
  bad('updateCampaignStatus', 'malformed campaign_id', (t) => ({ tenantId: t.tenantId, campaignId: 'c-1', status: M.CampaignStatus.CAMPAIGN_STATUS_ACTIVE }), 'campaign_id'),
  bad('listCampaigns', 'unknown status', (t) => ({ tenantId: t.tenantId, status: outOfEnum(99) }), 'status'),
  bad('listCampaigns', 'page size over max', (t) => ({ tenantId: t.tenantId, page: { pageSize: 101 } }), 'page.page_size'),
  // Sequence steps
  bad('createSequenceStep', 'malformed campaign_id', (t) => ({ tenantId: t.tenantId, campaignId: 'c-1', stepNumber: 3, subjectTemplateKey: 's', bodyTemplateKey: 'b' }), 'campaign_id'),
  bad('createSequenceStep', 'step_number over 100', (t) => ({ tenantId: t.tenantId, campaignId: t.campaignId, stepNumber: 101, subjectTemplateKey: 's', bodyTemplateKey: 'b' }), 'step_number'),
  bad('createSequenceStep', 'negative delay', (t) => ({ tenantId: t.tenantId, campaignId: t.campaignId, stepNumber: 3, delayMinutes: -1, subjectTemplateKey: 's', bodyTemplateKey: 'b' }), 'delay_minutes'),
  bad('createSequenceStep', 'missing subject key', (t) => ({ tenantId: t.tenantId, campaignId: t.campaignId, stepNumber: 3, subjectTemplateKey: '', bodyTemplateKey: 'b' }), 'subject_template_key'),
  bad('createSequenceStep', 'body key over 500', (t) => ({ tenantId: t.tenantId, campaignId: t.campaignId, stepNumber: 3, subjectTemplateKey: 's', bodyTemplateKey: long(501) }), 'body_template_key'),
  bad('getSequenceStep', 'malformed sequence_step_id', (t) => ({ tenantId: t.tenantId, sequenceStepId: 's-1' }), 'sequence_step_id'),
  bad('updateSequenceStep', 'malformed sequence_step_id', (t) => ({ tenantId: t.tenantId, sequenceStepId: 's-1', delayMinutes: 5 }), 'sequence_step_id'),
  bad('updateSequenceStep', 'step_number 0', (t) => ({ tenantId: t.tenantId, sequenceStepId: t.stepId, stepNumber: 0 }), 'step_number'),
  bad('updateSequenceStep', 'delay over a year', (t) => ({ tenantId: t.tenantId, sequenceStepId: t.stepId, delayMinutes: 525_601 }), 'delay_minutes'),
  bad('updateSequenceStep', 'empty subject key (valid delay)', (t) => ({ tenantId: t.tenantId, sequenceStepId: t.stepId, delayMinutes: 5, subjectTemplateKey: '' }), 'subject_template_key'),
  bad('listSequenceSteps', 'missing campaign_id', (t) => ({ tenantId: t.tenantId, campaignId: '' }), 'campaign_id'),
  bad('deleteSequenceStep', 'malformed sequence_step_id', (t) => ({ tenantId: t.tenantId, sequenceStepId: 's-1' }), 'sequence_step_id'),
  // Messages
  bad('recordMessage', 'no message at all', (t) => ({ tenantId: t.tenantId }), 'message.email_account_id'),
  bad('recordMessage', 'a step without its campaign', (t) => ({ tenantId: t.tenantId, message: msgOf(t, { sequenceStepId: t.stepId }) }), 'message.sequence_step_id'),
  bad('recordMessage', 'malformed parent id', (t) => ({ tenantId: t.tenantId, message: msgOf(t, { parentMessageId: 'm-1' }) }), 'message.parent_message_id'),
  bad('batchRecordMessages', 'empty list', (t) => ({ tenantId: t.tenantId, messages: [] }), 'messages'),
  bad('batchRecordMessages', 'malformed tenant_id', (t) => ({ tenantId: 'acme', messages: [msgOf(t)] }), 'tenant_id'),
  bad('batchRecordMessages', 'a step without its campaign in item 1', (t) => ({ tenantId: t.tenantId, messages: [msgOf(t), msgOf(t, { sequenceStepId: t.stepId })] }), 'messages[1].sequence_step_id'),
  bad('getMessage', 'malformed tenant_id', (t) => ({ tenantId: 'acme', messageId: t.messageId }), 'tenant_id'),
  bad('listMessages', 'malformed email_account_id', (t) => ({ tenantId: t.tenantId, emailAccountId: 'mbox' }), 'email_account_id'),
  bad('listMessages', 'malformed lead_id', (t) => ({ tenantId: t.tenantId, leadId: 'lead' }), 'lead_id'),
  bad('listMessages', 'unknown direction', (t) => ({ tenantId: t.tenantId, direction: outOfEnum(9) }), 'direction'),
  bad('listMessages', 'unknown message type', (t) => ({ tenantId: t.tenantId, messageType: outOfEnum(9) }), 'message_type'),
  bad('listMessages', 'inverted time range', (t) => ({ tenantId: t.tenantId, created: { start: new Date(2026, 0, 2), end: new Date(2026, 0, 1) } }), 'created.end'),
  bad('listMessages', 'inverted updated range', (t) => ({ tenantId: t.tenantId, updated: { start: new Date(2026, 0, 2), end: new Date(2026, 0, 1) } }), 'updated.end'),
  bad('getThread', 'malformed message_id', (t) => ({ tenantId: t.tenantId, messageId: 'm-1' }), 'message_id'),
  bad('getThread', 'missing tenant_id', (t) => ({ tenantId: '', messageId: t.messageId }), 'tenant_id'),
  bad('updateMessageStatus', 'malformed message_id', (t) => ({ tenantId: t.tenantId, messageId: 'm-1', status: M.MessageStatus.MESSAGE_STATUS_DELIVERED }), 'message_id'),
  bad('updateMessageStatus', 'unknown status', (t) => ({ tenantId: t.tenantId, messageId: t.messageId, status: outOfEnum(99) }), 'status'),
  bad('markProcessed', 'malformed message_id', (t) => ({ tenantId: t.tenantId, messageId: 'm-1' }), 'message_id'),
  bad('markProcessed', 'malformed tenant_id', (t) => ({ tenantId: 'acme', messageId: t.messageId }), 'tenant_id'),
  bad('ingestMessage', 'malformed tenant_id', (t) => ({ tenantId: 'acme', message: msgOf(t) }), 'tenant_id'),
  bad('ingestMessage', 'a content_storage_key', (t) => ({ tenantId: t.tenantId, message: msgOf(t, { contentStorageKey: `${t.tenantId}/a/b` }) }), 'message.content_storage_key'),
  bad('ingestMessage', 'malformed from_email', (t) => ({ tenantId: t.tenantId, message: msgOf(t, { fromEmail: 'nope' }) }), 'message.from_email'),
  bad('ingestMessage', 'negative raw_size_bytes', (t) => ({ tenantId: t.tenantId, message: msgOf(t), body: { rawSizeBytes: -1n } }), 'body.raw_size_bytes'),
  bad('ingestMessage', 'attachment over the content limit', (t) => ({ tenantId: t.tenantId, message: msgOf(t), attachments: [{ content: Buffer.alloc(1024 * 1024 + 1) }] }), 'attachments[0].content'),
  bad('recordMessage', 'bounce_type on an email', (t) => ({ tenantId: t.tenantId, message: msgOf(t, { bounceType: 1 }) }), 'message.bounce_type'),
  bad('recordMessage', "another tenant's content key", (t) => ({ tenantId: t.tenantId, message: msgOf(t, { contentStorageKey: `${OTHER_UUID}/2026/01/x` }) }), 'message.content_storage_key'),
];

describe('bad input → INVALID_ARGUMENT naming the field, nothing written', () => {
  it.each(badInput)('%s: %s', async (_rpc, _what, call, field) => {
    const before = await snapshot(h.pool);
    await expectError(call(t), Status.INVALID_ARGUMENT, field);
    expect(await snapshot(h.pool)).toEqual(before);
  });
});

// `t` asks for rows of `o` (or of a tenant that does not exist): NOT_FOUND, no row of anyone changes.
type ForeignCase = [rpc: Method, what: string, call: (t: Seed, o: Seed) => Promise<unknown>];

/** A foreign-id case; its request is type-checked against the RPC's request type. */
function foreignCase<M extends Method>(rpc: M, what: string, req: (t: Seed, o: Seed) => PartialRequest<M>): ForeignCase {
  return [rpc, what, (t, o) => h.rpc(rpc, req(t, o))];
}

const foreign: ForeignCase[] = [
  foreignCase('getTenant', 'unknown tenant', () => ({ tenantId: OTHER_UUID })),
  foreignCase('updateTenant', 'unknown tenant', () => ({ tenantId: OTHER_UUID, name: 'x', status: M.TenantStatus.TENANT_STATUS_SUSPENDED })),
  foreignCase('createUser', 'unknown tenant', () => ({ tenantId: OTHER_UUID, email: 'u@x.example' })),
  foreignCase('getUser', "other tenant's user", (t, o) => ({ tenantId: t.tenantId, userId: o.userId })),
  foreignCase('updateUser', "other tenant's user", (t, o) => ({ tenantId: t.tenantId, userId: o.userId, name: 'hijack', status: M.UserStatus.USER_STATUS_DISABLED })),
  foreignCase('deleteUser', "other tenant's user", (t, o) => ({ tenantId: t.tenantId, userId: o.userId })),
  foreignCase('createEmailAccount', 'unknown tenant', () => ({ tenantId: OTHER_UUID, email: 'm@x.example', provider: 1 })),
  foreignCase('getEmailAccount', "other tenant's mailbox", (t, o) => ({ tenantId: t.tenantId, emailAccountId: o.mailboxId })),
  foreignCase('updateEmailAccount', "other tenant's mailbox", (t, o) => ({ tenantId: t.tenantId, emailAccountId: o.mailboxId, dailySendLimit: 1, status: M.EmailAccountStatus.EMAIL_ACCOUNT_STATUS_ARCHIVED })),
  foreignCase('createLead', 'unknown tenant', () => ({ tenantId: OTHER_UUID, lead: { email: 'l@x.example' } })),
  foreignCase('importLeads', 'unknown tenant', () => ({ tenantId: OTHER_UUID, leads: [{ email: 'l@x.example' }] })),
  foreignCase('getLead', "other tenant's lead", (t, o) => ({ tenantId: t.tenantId, leadId: o.leadId })),
  foreignCase('updateLead', "other tenant's lead", (t, o) => ({ tenantId: t.tenantId, leadId: o.leadId, company: 'hijack', customFields: { a: 1 } })),
  foreignCase('deleteLead', "other tenant's lead", (t, o) => ({ tenantId: t.tenantId, leadId: o.leadId })),
  foreignCase('createCampaign', 'unknown tenant', () => ({ tenantId: OTHER_UUID, name: 'c' })),
  foreignCase('getCampaign', "other tenant's campaign", (t, o) => ({ tenantId: t.tenantId, campaignId: o.campaignId })),
  foreignCase('updateCampaign', "other tenant's campaign", (t, o) => ({ tenantId: t.tenantId, campaignId: o.campaignId, name: 'hijack', schedule: { timezone: 'Asia/Tokyo' } })),
  foreignCase('updateCampaignStatus', "other tenant's campaign", (t, o) => ({ tenantId: t.tenantId, campaignId: o.campaignId, status: M.CampaignStatus.CAMPAIGN_STATUS_ACTIVE })),
  foreignCase('createSequenceStep', "other tenant's campaign", (t, o) => ({ tenantId: t.tenantId, campaignId: o.campaignId, stepNumber: 9, subjectTemplateKey: 's', bodyTemplateKey: 'b' })),
  foreignCase('getSequenceStep', "other tenant's step", (t, o) => ({ tenantId: t.tenantId, sequenceStepId: o.stepId })),
  foreignCase('updateSequenceStep', "other tenant's step", (t, o) => ({ tenantId: t.tenantId, sequenceStepId: o.stepId, delayMinutes: 77 })),
  foreignCase('listSequenceSteps', "other tenant's campaign", (t, o) => ({ tenantId: t.tenantId, campaignId: o.campaignId })),
  foreignCase('deleteSequenceStep', "other tenant's step", (t, o) => ({ tenantId: t.tenantId, sequenceStepId: o.stepId })),
  foreignCase('recordMessage', "a parent message of another tenant", (t, o) => ({ tenantId: t.tenantId, message: msgOf(t, { parentMessageId: o.messageId }) })),
  foreignCase('recordMessage', "a sequence step of another tenant", (t, o) => ({ tenantId: t.tenantId, message: msgOf(t, { campaignId: t.campaignId, sequenceStepId: o.stepId }) })),
  foreignCase('recordMessage', 'unknown tenant', (t) => ({ tenantId: OTHER_UUID, message: msgOf(t) })),
  foreignCase('batchRecordMessages', "item 1's parent of another tenant", (t, o) => ({ tenantId: t.tenantId, messages: [msgOf(t), msgOf(t, { parentMessageId: o.messageId })] })),
  foreignCase('batchRecordMessages', "item 0's lead of another tenant", (t, o) => ({ tenantId: t.tenantId, messages: [msgOf(t, { leadId: o.leadId }), msgOf(t)] })),
  foreignCase('ingestMessage', "another tenant's mailbox", (t, o) => ({ tenantId: t.tenantId, message: msgOf(o), body: { contentText: 'x' } })),
  foreignCase('ingestMessage', "a parent message of another tenant", (t, o) => ({ tenantId: t.tenantId, message: msgOf(t, { parentMessageId: o.messageId }) })),
  foreignCase('ingestMessage', 'unknown tenant', (t) => ({ tenantId: OTHER_UUID, message: msgOf(t) })),
  foreignCase('getMessage', "other tenant's message", (t, o) => ({ tenantId: t.tenantId, messageId: o.messageId })),
  foreignCase('getThread', "other tenant's message", (t, o) => ({ tenantId: t.tenantId, messageId: o.messageId })),
  foreignCase('updateMessageStatus', "other tenant's message", (t, o) => ({ tenantId: t.tenantId, messageId: o.messageId, status: M.MessageStatus.MESSAGE_STATUS_DELIVERED })),
  foreignCase('markProcessed', "other tenant's message", (t, o) => ({ tenantId: t.tenantId, messageId: o.messageId, processed: new Date('2026-01-01T00:00:00Z') })),
];

describe("another tenant's id → NOT_FOUND, nothing written", () => {
  it.each(foreign)('%s: %s', async (_rpc, _what, call) => {
    const before = await snapshot(h.pool);
    await expectError(call(t, o), Status.NOT_FOUND);
    expect(await snapshot(h.pool)).toEqual(before);
  });

  it("lists never show another tenant's rows, whatever the filter", async () => {
    const ids = (rows: { id: string }[]) => rows.map((r) => r.id);
    const mine = { tenantId: t.tenantId };
    expect(ids((await h.rpc('listUsers', mine)).users)).toEqual([t.userId]);
    expect(ids((await h.rpc('listEmailAccounts', mine)).emailAccounts)).toEqual([t.mailboxId]);
    expect(ids((await h.rpc('listLeads', mine)).leads)).toEqual([t.leadId]);
    expect(ids((await h.rpc('listCampaigns', mine)).campaigns)).toEqual([t.campaignId]);
    expect(ids((await h.rpc('listMessages', mine)).messages)).toEqual([t.messageId]);
    for (const f of [{ campaignId: o.campaignId }, { emailAccountId: o.mailboxId }, { leadId: o.leadId }]) {
      expect(ids((await h.rpc('listMessages', { ...mine, ...f })).messages)).toEqual([]);
    }
  });
});

describe('unique keys are per tenant: reusing another tenant\'s key neither clashes nor returns its row', () => {
  it('message idempotency keys, lead, user and mailbox addresses', async () => {
    const mine = await h.rpc('getMessage', { tenantId: t.tenantId, messageId: t.messageId });
    const { providerMessageId } = mine.message!;
    const clientKey = `ck-${randomUUID()}`;
    await h.rpc('recordMessage', { tenantId: t.tenantId, message: msgOf(t, { providerMessageId: '', clientKey }) });
    for (const key of [{ providerMessageId }, { providerMessageId: '', clientKey }]) {
      const theirs = await h.rpc('recordMessage', { tenantId: o.tenantId, message: msgOf(o, key) });
      expect(theirs).toMatchObject({ created: true, message: { tenantId: o.tenantId } });
    }
    const { lead } = await h.rpc('getLead', { tenantId: t.tenantId, leadId: t.leadId });
    expect(await h.rpc('importLeads', { tenantId: o.tenantId, leads: [{ email: lead!.email }] })).toMatchObject({ createdCount: 1, skippedEmails: [] });
    const { user } = await h.rpc('getUser', { tenantId: t.tenantId, userId: t.userId });
    expect((await h.rpc('createUser', { tenantId: o.tenantId, email: user!.email })).user!.tenantId).toBe(o.tenantId);
    const { emailAccount } = await h.rpc('getEmailAccount', { tenantId: t.tenantId, emailAccountId: t.mailboxId });
    expect((await h.rpc('createEmailAccount', { tenantId: o.tenantId, email: emailAccount!.email, provider: 1 })).emailAccount!.tenantId).toBe(o.tenantId);
  });
});
