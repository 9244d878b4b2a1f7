import { randomUUID } from 'node:crypto';
import { M, OTHER_UUID, Status, expectError, seedTenant, snapshot, startHarness, type Client, type Harness } from './helpers';

// The project standard, RPC by RPC: bad input is INVALID_ARGUMENT naming the field and writes
// nothing; another tenant's id is NOT_FOUND and writes nothing. "Nothing" is checked with a
// digest of every row of every table (outbox_events included), so a stray UPDATE shows too.

let h: Harness;
let t: Seed;
let o: Seed;

type Seed = Awaited<ReturnType<typeof seed>>;
type Req = Record<string, unknown>;

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
  const { message } = await h.rpc('recordMessage', { tenantId: s.tenantId, message: msgOf(s, { campaignId: s.campaignId, leadId: s.leadId, sequenceStepId: step.id }) });
  return { ...s, userId: user.id as string, stepId: step.id as string, messageId: message.id as string };
}

function msgOf(s: { mailboxId: string }, over: Req = {}): Req {
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
  h = await startHarness({ pageSizeMax: 100 });
  t = await seed('Acme');
  o = await seed('Globex');
});
afterAll(() => h.stop());

const long = (n: number) => 'x'.repeat(n);
const tooBigStruct = { blob: long(17 * 1024) };

type Case = [rpc: keyof Client, what: string, req: (t: Seed) => Req, field: string];

const badInput: Case[] = [
  // Tenants
  ['createTenant', 'malformed tenant_id', () => ({ tenantId: 'acme', name: 'x' }), 'tenant_id'],
  ['createTenant', 'missing name', () => ({ name: '' }), 'name'],
  ['getTenant', 'missing tenant_id', () => ({ tenantId: '' }), 'tenant_id'],
  ['updateTenant', 'malformed tenant_id', () => ({ tenantId: 'acme', name: 'x' }), 'tenant_id'],
  ['updateTenant', 'empty name', (t) => ({ tenantId: t.tenantId, name: '' }), 'name'],
  ['updateTenant', 'name over 200', (t) => ({ tenantId: t.tenantId, name: long(201) }), 'name'],
  ['updateTenant', 'unknown status (valid name)', (t) => ({ tenantId: t.tenantId, name: 'Renamed', status: 12 }), 'status'],
  // Users
  ['createUser', 'malformed tenant_id', () => ({ tenantId: 'acme', email: 'a@x.example' }), 'tenant_id'],
  ['createUser', 'missing email', (t) => ({ tenantId: t.tenantId, email: '' }), 'email'],
  ['createUser', 'name over 200', (t) => ({ tenantId: t.tenantId, email: 'a@x.example', name: long(201) }), 'name'],
  ['createUser', 'unknown status', (t) => ({ tenantId: t.tenantId, email: 'a@x.example', status: 9 }), 'status'],
  ['getUser', 'malformed user_id', (t) => ({ tenantId: t.tenantId, userId: 'u-1' }), 'user_id'],
  ['getUser', 'malformed tenant_id', (t) => ({ tenantId: 'acme', userId: t.userId }), 'tenant_id'],
  ['updateUser', 'missing user_id', (t) => ({ tenantId: t.tenantId, userId: '', name: 'x' }), 'user_id'],
  ['updateUser', 'bad email', (t) => ({ tenantId: t.tenantId, userId: t.userId, email: 'nope' }), 'email'],
  ['updateUser', 'name over 200', (t) => ({ tenantId: t.tenantId, userId: t.userId, name: long(201) }), 'name'],
  ['updateUser', 'unknown role (valid name)', (t) => ({ tenantId: t.tenantId, userId: t.userId, name: 'ok', role: 9 }), 'role'],
  ['updateUser', 'unknown status (valid name)', (t) => ({ tenantId: t.tenantId, userId: t.userId, name: 'ok', status: 9 }), 'status'],
  ['listUsers', 'malformed tenant_id', () => ({ tenantId: 'acme' }), 'tenant_id'],
  ['listUsers', 'unknown status', (t) => ({ tenantId: t.tenantId, status: 9 }), 'status'],
  ['listUsers', 'unknown role', (t) => ({ tenantId: t.tenantId, role: 9 }), 'role'],
  ['listUsers', 'negative page size', (t) => ({ tenantId: t.tenantId, page: { pageSize: -1 } }), 'page.page_size'],
  ['listUsers', 'forged page token', (t) => ({ tenantId: t.tenantId, page: { pageToken: 'garbage' } }), 'page.page_token'],
  ['deleteUser', 'malformed user_id', (t) => ({ tenantId: t.tenantId, userId: 'u-1' }), 'user_id'],
  ['deleteUser', 'malformed tenant_id', (t) => ({ tenantId: 'acme', userId: t.userId }), 'tenant_id'],
  // Email accounts
  ['createEmailAccount', 'missing email', (t) => ({ tenantId: t.tenantId, email: '', provider: 1 }), 'email'],
  ['createEmailAccount', 'unknown provider', (t) => ({ tenantId: t.tenantId, email: 'm@x.example', provider: 99 }), 'provider'],
  ['createEmailAccount', 'display_name over 200', (t) => ({ tenantId: t.tenantId, email: 'm@x.example', provider: 1, displayName: long(201) }), 'display_name'],
  ['createEmailAccount', 'daily_send_limit over 100000', (t) => ({ tenantId: t.tenantId, email: 'm@x.example', provider: 1, dailySendLimit: 100_001 }), 'daily_send_limit'],
  ['createEmailAccount', 'unknown status', (t) => ({ tenantId: t.tenantId, email: 'm@x.example', provider: 1, status: 9 }), 'status'],
  ['getEmailAccount', 'malformed email_account_id', (t) => ({ tenantId: t.tenantId, emailAccountId: 'mbox' }), 'email_account_id'],
  ['updateEmailAccount', 'malformed email_account_id', (t) => ({ tenantId: t.tenantId, emailAccountId: 'mbox', displayName: 'x' }), 'email_account_id'],
  ['updateEmailAccount', 'display_name over 200', (t) => ({ tenantId: t.tenantId, emailAccountId: t.mailboxId, displayName: long(201) }), 'display_name'],
  ['updateEmailAccount', 'negative daily_send_limit', (t) => ({ tenantId: t.tenantId, emailAccountId: t.mailboxId, dailySendLimit: -1 }), 'daily_send_limit'],
  ['updateEmailAccount', 'unknown status (valid name)', (t) => ({ tenantId: t.tenantId, emailAccountId: t.mailboxId, displayName: 'ok', status: 9 }), 'status'],
  ['listEmailAccounts', 'unknown status', (t) => ({ tenantId: t.tenantId, status: 9 }), 'status'],
  ['listEmailAccounts', 'unknown provider', (t) => ({ tenantId: t.tenantId, provider: 9 }), 'provider'],
  ['listEmailAccounts', 'page size over max', (t) => ({ tenantId: t.tenantId, page: { pageSize: 101 } }), 'page.page_size'],
  // Leads
  ['createLead', 'no lead at all', (t) => ({ tenantId: t.tenantId }), 'lead.email'],
  ['createLead', 'first_name over 100', (t) => ({ tenantId: t.tenantId, lead: { email: 'l@x.example', firstName: long(101) } }), 'lead.first_name'],
  ['createLead', 'company over 200', (t) => ({ tenantId: t.tenantId, lead: { email: 'l@x.example', company: long(201) } }), 'lead.company'],
  ['createLead', 'custom_fields over 16 KiB', (t) => ({ tenantId: t.tenantId, lead: { email: 'l@x.example', customFields: tooBigStruct } }), 'lead.custom_fields'],
  ['importLeads', 'empty list', (t) => ({ tenantId: t.tenantId, leads: [] }), 'leads'],
  ['importLeads', 'malformed tenant_id', () => ({ tenantId: 'acme', leads: [{ email: 'l@x.example' }] }), 'tenant_id'],
  ['importLeads', 'unknown status in row 2', (t) => ({ tenantId: t.tenantId, leads: [{ email: 'a@x.example' }, { email: 'b@x.example' }, { email: 'c@x.example', status: 40 }] }), 'leads[2].status'],
  ['getLead', 'malformed lead_id', (t) => ({ tenantId: t.tenantId, leadId: 'lead-1' }), 'lead_id'],
  ['updateLead', 'malformed lead_id', (t) => ({ tenantId: t.tenantId, leadId: 'lead-1', company: 'x' }), 'lead_id'],
  ['updateLead', 'bad email', (t) => ({ tenantId: t.tenantId, leadId: t.leadId, email: 'nope' }), 'email'],
  ['updateLead', 'last_name over 100', (t) => ({ tenantId: t.tenantId, leadId: t.leadId, lastName: long(101) }), 'last_name'],
  ['updateLead', 'custom_fields over 16 KiB', (t) => ({ tenantId: t.tenantId, leadId: t.leadId, customFields: tooBigStruct }), 'custom_fields'],
  ['updateLead', 'unknown status (valid company)', (t) => ({ tenantId: t.tenantId, leadId: t.leadId, company: 'ok', status: 40 }), 'status'],
  ['listLeads', 'unknown status', (t) => ({ tenantId: t.tenantId, status: 40 }), 'status'],
  ['listLeads', 'page size over max', (t) => ({ tenantId: t.tenantId, page: { pageSize: 101 } }), 'page.page_size'],
  ['deleteLead', 'malformed lead_id', (t) => ({ tenantId: t.tenantId, leadId: 'lead-1' }), 'lead_id'],
  // Campaigns
  ['createCampaign', 'name over 200', (t) => ({ tenantId: t.tenantId, name: long(201) }), 'name'],
  ['createCampaign', 'window ends before it starts', (t) => ({ tenantId: t.tenantId, name: 'c', schedule: { timezone: 'UTC', windowStartMinute: 600, windowEndMinute: 500 } }), 'schedule.window_end_minute'],
  ['createCampaign', 'send day 7', (t) => ({ tenantId: t.tenantId, name: 'c', schedule: { timezone: 'UTC', sendDays: [1, 7] } }), 'schedule.send_days'],
  ['getCampaign', 'malformed campaign_id', (t) => ({ tenantId: t.tenantId, campaignId: 'c-1' }), 'campaign_id'],
  ['updateCampaign', 'malformed campaign_id', (t) => ({ tenantId: t.tenantId, campaignId: 'c-1', name: 'x' }), 'campaign_id'],
  ['updateCampaign', 'empty name', (t) => ({ tenantId: t.tenantId, campaignId: t.campaignId, name: '' }), 'name'],
  ['updateCampaign', 'unknown time zone (valid name)', (t) => ({ tenantId: t.tenantId, campaignId: t.campaignId, name: 'ok', schedule: { timezone: 'Mars/Olympus' } }), 'schedule.timezone'],
  ['updateCampaignStatus', 'missing status', (t) => ({ tenantId: t.tenantId, campaignId: t.campaignId, status: 0 }), 'status'],
  ['updateCampaignStatus', 'unknown status', (t) => ({ tenantId: t.tenantId, campaignId: t.campaignId, status: 99 }), 'status'],
  ['updateCampaignStatus', 'malformed campaign_id', (t) => ({ tenantId: t.tenantId, campaignId: 'c-1', status: M.CampaignStatus.CAMPAIGN_STATUS_ACTIVE }), 'campaign_id'],
  ['listCampaigns', 'unknown status', (t) => ({ tenantId: t.tenantId, status: 99 }), 'status'],
  ['listCampaigns', 'page size over max', (t) => ({ tenantId: t.tenantId, page: { pageSize: 101 } }), 'page.page_size'],
  // Sequence steps
  ['createSequenceStep', 'malformed campaign_id', (t) => ({ tenantId: t.tenantId, campaignId: 'c-1', stepNumber: 3, subjectTemplateKey: 's', bodyTemplateKey: 'b' }), 'campaign_id'],
  ['createSequenceStep', 'step_number over 100', (t) => ({ tenantId: t.tenantId, campaignId: t.campaignId, stepNumber: 101, subjectTemplateKey: 's', bodyTemplateKey: 'b' }), 'step_number'],
  ['createSequenceStep', 'negative delay', (t) => ({ tenantId: t.tenantId, campaignId: t.campaignId, stepNumber: 3, delayMinutes: -1, subjectTemplateKey: 's', bodyTemplateKey: 'b' }), 'delay_minutes'],
  ['createSequenceStep', 'missing subject key', (t) => ({ tenantId: t.tenantId, campaignId: t.campaignId, stepNumber: 3, subjectTemplateKey: '', bodyTemplateKey: 'b' }), 'subject_template_key'],
  ['createSequenceStep', 'body key over 500', (t) => ({ tenantId: t.tenantId, campaignId: t.campaignId, stepNumber: 3, subjectTemplateKey: 's', bodyTemplateKey: long(501) }), 'body_template_key'],
  ['getSequenceStep', 'malformed sequence_step_id', (t) => ({ tenantId: t.tenantId, sequenceStepId: 's-1' }), 'sequence_step_id'],
  ['updateSequenceStep', 'malformed sequence_step_id', (t) => ({ tenantId: t.tenantId, sequenceStepId: 's-1', delayMinutes: 5 }), 'sequence_step_id'],
  ['updateSequenceStep', 'step_number 0', (t) => ({ tenantId: t.tenantId, sequenceStepId: t.stepId, stepNumber: 0 }), 'step_number'],
  ['updateSequenceStep', 'delay over a year', (t) => ({ tenantId: t.tenantId, sequenceStepId: t.stepId, delayMinutes: 525_601 }), 'delay_minutes'],
  ['updateSequenceStep', 'empty subject key (valid delay)', (t) => ({ tenantId: t.tenantId, sequenceStepId: t.stepId, delayMinutes: 5, subjectTemplateKey: '' }), 'subject_template_key'],
  ['listSequenceSteps', 'missing campaign_id', (t) => ({ tenantId: t.tenantId, campaignId: '' }), 'campaign_id'],
  ['deleteSequenceStep', 'malformed sequence_step_id', (t) => ({ tenantId: t.tenantId, sequenceStepId: 's-1' }), 'sequence_step_id'],
  // Messages
  ['recordMessage', 'no message at all', (t) => ({ tenantId: t.tenantId }), 'message.email_account_id'],
  ['recordMessage', 'a step without its campaign', (t) => ({ tenantId: t.tenantId, message: msgOf(t, { sequenceStepId: t.stepId }) }), 'message.sequence_step_id'],
  ['recordMessage', 'malformed parent id', (t) => ({ tenantId: t.tenantId, message: msgOf(t, { parentMessageId: 'm-1' }) }), 'message.parent_message_id'],
  ['batchRecordMessages', 'empty list', (t) => ({ tenantId: t.tenantId, messages: [] }), 'messages'],
  ['batchRecordMessages', 'malformed tenant_id', (t) => ({ tenantId: 'acme', messages: [msgOf(t)] }), 'tenant_id'],
  ['batchRecordMessages', 'a step without its campaign in item 1', (t) => ({ tenantId: t.tenantId, messages: [msgOf(t), msgOf(t, { sequenceStepId: t.stepId })] }), 'messages[1].sequence_step_id'],
  ['getMessage', 'malformed tenant_id', (t) => ({ tenantId: 'acme', messageId: t.messageId }), 'tenant_id'],
  ['listMessages', 'malformed email_account_id', (t) => ({ tenantId: t.tenantId, emailAccountId: 'mbox' }), 'email_account_id'],
  ['listMessages', 'malformed lead_id', (t) => ({ tenantId: t.tenantId, leadId: 'lead' }), 'lead_id'],
  ['listMessages', 'unknown direction', (t) => ({ tenantId: t.tenantId, direction: 9 }), 'direction'],
  ['listMessages', 'unknown message type', (t) => ({ tenantId: t.tenantId, messageType: 9 }), 'message_type'],
  ['listMessages', 'inverted time range', (t) => ({ tenantId: t.tenantId, created: { start: new Date(2026, 0, 2), end: new Date(2026, 0, 1) } }), 'created.end'],
  ['getThread', 'malformed message_id', (t) => ({ tenantId: t.tenantId, messageId: 'm-1' }), 'message_id'],
  ['getThread', 'missing tenant_id', (t) => ({ tenantId: '', messageId: t.messageId }), 'tenant_id'],
  ['updateMessageStatus', 'malformed message_id', (t) => ({ tenantId: t.tenantId, messageId: 'm-1', status: M.MessageStatus.MESSAGE_STATUS_DELIVERED }), 'message_id'],
  ['updateMessageStatus', 'unknown status', (t) => ({ tenantId: t.tenantId, messageId: t.messageId, status: 99 }), 'status'],
  ['markProcessed', 'malformed message_id', (t) => ({ tenantId: t.tenantId, messageId: 'm-1' }), 'message_id'],
  ['markProcessed', 'malformed tenant_id', (t) => ({ tenantId: 'acme', messageId: t.messageId }), 'tenant_id'],
];

describe('bad input → INVALID_ARGUMENT naming the field, nothing written', () => {
  it.each(badInput)('%s: %s', async (rpc, _what, req, field) => {
    const before = await snapshot(h.pool);
    await expectError(h.rpc(rpc, req(t)), Status.INVALID_ARGUMENT, field);
    expect(await snapshot(h.pool)).toEqual(before);
  });
});

// `t` asks for rows of `o` (or of a tenant that does not exist): NOT_FOUND, no row of anyone changes.
const foreign: [rpc: keyof Client, what: string, req: (t: Seed, o: Seed) => Req][] = [
  ['getTenant', 'unknown tenant', () => ({ tenantId: OTHER_UUID })],
  ['updateTenant', 'unknown tenant', () => ({ tenantId: OTHER_UUID, name: 'x', status: M.TenantStatus.TENANT_STATUS_SUSPENDED })],
  ['createUser', 'unknown tenant', () => ({ tenantId: OTHER_UUID, email: 'u@x.example' })],
  ['getUser', "other tenant's user", (t, o) => ({ tenantId: t.tenantId, userId: o.userId })],
  ['updateUser', "other tenant's user", (t, o) => ({ tenantId: t.tenantId, userId: o.userId, name: 'hijack', status: M.UserStatus.USER_STATUS_DISABLED })],
  ['deleteUser', "other tenant's user", (t, o) => ({ tenantId: t.tenantId, userId: o.userId })],
  ['createEmailAccount', 'unknown tenant', () => ({ tenantId: OTHER_UUID, email: 'm@x.example', provider: 1 })],
  ['getEmailAccount', "other tenant's mailbox", (t, o) => ({ tenantId: t.tenantId, emailAccountId: o.mailboxId })],
  ['updateEmailAccount', "other tenant's mailbox", (t, o) => ({ tenantId: t.tenantId, emailAccountId: o.mailboxId, dailySendLimit: 1, status: M.EmailAccountStatus.EMAIL_ACCOUNT_STATUS_ARCHIVED })],
  ['createLead', 'unknown tenant', () => ({ tenantId: OTHER_UUID, lead: { email: 'l@x.example' } })],
  ['importLeads', 'unknown tenant', () => ({ tenantId: OTHER_UUID, leads: [{ email: 'l@x.example' }] })],
  ['getLead', "other tenant's lead", (t, o) => ({ tenantId: t.tenantId, leadId: o.leadId })],
  ['updateLead', "other tenant's lead", (t, o) => ({ tenantId: t.tenantId, leadId: o.leadId, company: 'hijack', customFields: { a: 1 } })],
  ['deleteLead', "other tenant's lead", (t, o) => ({ tenantId: t.tenantId, leadId: o.leadId })],
  ['createCampaign', 'unknown tenant', () => ({ tenantId: OTHER_UUID, name: 'c' })],
  ['getCampaign', "other tenant's campaign", (t, o) => ({ tenantId: t.tenantId, campaignId: o.campaignId })],
  ['updateCampaign', "other tenant's campaign", (t, o) => ({ tenantId: t.tenantId, campaignId: o.campaignId, name: 'hijack', schedule: { timezone: 'Asia/Tokyo' } })],
  ['updateCampaignStatus', "other tenant's campaign", (t, o) => ({ tenantId: t.tenantId, campaignId: o.campaignId, status: M.CampaignStatus.CAMPAIGN_STATUS_ACTIVE })],
  ['createSequenceStep', "other tenant's campaign", (t, o) => ({ tenantId: t.tenantId, campaignId: o.campaignId, stepNumber: 9, subjectTemplateKey: 's', bodyTemplateKey: 'b' })],
  ['getSequenceStep', "other tenant's step", (t, o) => ({ tenantId: t.tenantId, sequenceStepId: o.stepId })],
  ['updateSequenceStep', "other tenant's step", (t, o) => ({ tenantId: t.tenantId, sequenceStepId: o.stepId, delayMinutes: 77 })],
  ['listSequenceSteps', "other tenant's campaign", (t, o) => ({ tenantId: t.tenantId, campaignId: o.campaignId })],
  ['deleteSequenceStep', "other tenant's step", (t, o) => ({ tenantId: t.tenantId, sequenceStepId: o.stepId })],
  ['recordMessage', "a parent message of another tenant", (t, o) => ({ tenantId: t.tenantId, message: msgOf(t, { parentMessageId: o.messageId }) })],
  ['recordMessage', "a sequence step of another tenant", (t, o) => ({ tenantId: t.tenantId, message: msgOf(t, { campaignId: t.campaignId, sequenceStepId: o.stepId }) })],
  ['recordMessage', 'unknown tenant', (t) => ({ tenantId: OTHER_UUID, message: msgOf(t) })],
  ['batchRecordMessages', "item 1's parent of another tenant", (t, o) => ({ tenantId: t.tenantId, messages: [msgOf(t), msgOf(t, { parentMessageId: o.messageId })] })],
  ['batchRecordMessages', "item 0's lead of another tenant", (t, o) => ({ tenantId: t.tenantId, messages: [msgOf(t, { leadId: o.leadId }), msgOf(t)] })],
  ['getMessage', "other tenant's message", (t, o) => ({ tenantId: t.tenantId, messageId: o.messageId })],
  ['getThread', "other tenant's message", (t, o) => ({ tenantId: t.tenantId, messageId: o.messageId })],
  ['updateMessageStatus', "other tenant's message", (t, o) => ({ tenantId: t.tenantId, messageId: o.messageId, status: M.MessageStatus.MESSAGE_STATUS_DELIVERED })],
  ['markProcessed', "other tenant's message", (t, o) => ({ tenantId: t.tenantId, messageId: o.messageId, processed: new Date('2026-01-01T00:00:00Z') })],
];

describe("another tenant's id → NOT_FOUND, nothing written", () => {
  it.each(foreign)('%s: %s', async (rpc, _what, req) => {
    const before = await snapshot(h.pool);
    await expectError(h.rpc(rpc, req(t, o)), Status.NOT_FOUND);
    expect(await snapshot(h.pool)).toEqual(before);
  });

  it("lists never show another tenant's rows, whatever the filter", async () => {
    const ids = async (rpc: keyof Client, key: string, req: Req) => ((await h.rpc(rpc, { tenantId: t.tenantId, ...req }))[key] as { id: string }[]).map((r) => r.id);
    expect(await ids('listUsers', 'users', {})).toEqual([t.userId]);
    expect(await ids('listEmailAccounts', 'emailAccounts', {})).toEqual([t.mailboxId]);
    expect(await ids('listLeads', 'leads', {})).toEqual([t.leadId]);
    expect(await ids('listCampaigns', 'campaigns', {})).toEqual([t.campaignId]);
    expect(await ids('listMessages', 'messages', {})).toEqual([t.messageId]);
    for (const f of [{ campaignId: o.campaignId }, { emailAccountId: o.mailboxId }, { leadId: o.leadId }]) {
      expect(await ids('listMessages', 'messages', f)).toEqual([]);
    }
  });
});

describe('unique keys are per tenant: reusing another tenant\'s key neither clashes nor returns its row', () => {
  it('message idempotency keys, lead, user and mailbox addresses', async () => {
    const mine = await h.rpc('getMessage', { tenantId: t.tenantId, messageId: t.messageId });
    const { providerMessageId } = mine.message;
    const clientKey = `ck-${randomUUID()}`;
    await h.rpc('recordMessage', { tenantId: t.tenantId, message: msgOf(t, { providerMessageId: '', clientKey }) });
    for (const key of [{ providerMessageId }, { providerMessageId: '', clientKey }]) {
      const theirs = await h.rpc('recordMessage', { tenantId: o.tenantId, message: msgOf(o, key) });
      expect(theirs).toMatchObject({ created: true, message: { tenantId: o.tenantId } });
    }
    const { lead } = await h.rpc('getLead', { tenantId: t.tenantId, leadId: t.leadId });
    expect(await h.rpc('importLeads', { tenantId: o.tenantId, leads: [{ email: lead.email }] })).toMatchObject({ createdCount: 1, skippedEmails: [] });
    const { user } = await h.rpc('getUser', { tenantId: t.tenantId, userId: t.userId });
    expect((await h.rpc('createUser', { tenantId: o.tenantId, email: user.email })).user.tenantId).toBe(o.tenantId);
    const { emailAccount } = await h.rpc('getEmailAccount', { tenantId: t.tenantId, emailAccountId: t.mailboxId });
    expect((await h.rpc('createEmailAccount', { tenantId: o.tenantId, email: emailAccount.email, provider: 1 })).emailAccount.tenantId).toBe(o.tenantId);
  });
});
