import { randomUUID } from 'node:crypto';
import type { ServiceError } from '@grpc/grpc-js';
import { ServiceFuzzer, fuzzOrder, fuzzSettings, isBadCode, loadServiceSpec, pgDigest } from '@penguinmails/testkit';
import type { commonV1 } from '@penguinmails/contracts';
import { M, Status, seedTenant, startHarness, type Harness, type Method, type PartialRequest, type ResponseOf } from './harness';

// Hostile input for every RPC of MetadataService, generated from the descriptors (see
// packages/testkit/src/fuzz.ts): never UNKNOWN/INTERNAL/UNAVAILABLE, an answer within the bound,
// still SERVING after each call, a refused call writes nothing, and every stored row reads back.
// FUZZ_SEED, FUZZ_RUNS, FUZZ_REPLAY='Method:path' replay; `npm run fuzz` runs the long campaign.

const spec = loadServiceSpec('penguinmails.metadata.v1.MetadataService');
const settings = fuzzSettings({ runs: 25 });
// Deletes late, so the seeded rows the other methods aim at are there while they run; after them
// UpdateCampaignStatus, whose calls end campaigns (archived is for good, active locks the steps):
// the step methods (DeleteSequenceStep too) and the message methods need an editable campaign.
const order = fuzzOrder(spec, ['UpdateCampaignStatus']);

/** Rows per tenant for the Delete methods (users, leads, steps). */
const SPARES = 12;

let h: Harness;
let fuzz: ServiceFuzzer;

async function seed(name: string) {
  const s = await seedTenant(h, name);
  const { user } = await h.rpc('createUser', { tenantId: s.tenantId, email: `owner@${name.toLowerCase()}.example` });
  const { step } = await h.rpc('createSequenceStep', { tenantId: s.tenantId, campaignId: s.campaignId, stepNumber: 1, subjectTemplateKey: 'tpl/s1', bodyTemplateKey: 'tpl/b1' });
  const { message } = await h.rpc('recordMessage', {
    tenantId: s.tenantId,
    message: {
      emailAccountId: s.mailboxId,
      campaignId: s.campaignId,
      leadId: s.leadId,
      sequenceStepId: step!.id,
      direction: M.Direction.DIRECTION_OUTBOUND,
      fromEmail: 'sales@acme.example',
      toEmail: 'jane@lead.example',
      providerMessageId: `<${randomUUID()}@mail.example>`,
    },
  });
  // More refs: MarkProcessed sets `processed` once, so each ref takes one hostile timestamp.
  const more: string[] = [];
  for (let i = 0; i < 5; i++) {
    const r = await h.rpc('recordMessage', {
      tenantId: s.tenantId,
      message: { emailAccountId: s.mailboxId, direction: M.Direction.DIRECTION_INBOUND, fromEmail: 'x@lead.example', toEmail: 'sales@acme.example', providerMessageId: `<${randomUUID()}@mail.example>` },
    });
    more.push(r.message!.id as string);
  }
  // Rows for the Delete methods alone (one delete each): without them every delete after the
  // first of a pooled id answers NOT_FOUND, and the delete path meets few hostile requests.
  const spare = { users: [] as string[], leads: [] as string[], steps: [] as string[] };
  for (let i = 0; i < SPARES; i++) {
    const u = await h.rpc('createUser', { tenantId: s.tenantId, email: `spare${i}@${name.toLowerCase()}.example` });
    spare.users.push(u.user!.id as string);
    const l = await h.rpc('createLead', { tenantId: s.tenantId, lead: { email: `spare${i}@${name.toLowerCase()}-lead.example`, status: 0 } });
    spare.leads.push(l.lead!.id as string);
    // step numbers above the step_number pool (1-5), so CreateSequenceStep's plausible calls find them free
    const st = await h.rpc('createSequenceStep', { tenantId: s.tenantId, campaignId: s.campaignId, stepNumber: 10 + i, subjectTemplateKey: 'tpl/s', bodyTemplateKey: 'tpl/b' });
    spare.steps.push(st.step!.id as string);
  }
  return {
    ...s,
    spare,
    userId: user!.id as string,
    stepId: step!.id as string,
    messageId: message!.id as string,
    providerMessageId: message!.providerMessageId,
    messageIds: [message!.id as string, ...more],
  };
}

beforeAll(async () => {
  // IngestMessage calls the content tier: a real one, so that its answers are fuzzed too
  // (UNAVAILABLE is no acceptable outcome).
  h = await startHarness({ pageSizeMax: 100 }, { authTokens: [] }, { content: true });
  const a = await seed('Acme');
  const b = await seed('Globex');
  const hour = Math.floor(Date.now() / 3_600_000) * 3_600;
  const newMessage = { status: [0], bounce_type: [0] };
  fuzz = new ServiceFuzzer(spec, {
    address: h.address,
    settings,
    digest: () => pgDigest(h.pool),
    pools: {
      tenant_id: [a.tenantId, a.tenantId, a.tenantId, b.tenantId],
      email_account_id: [a.mailboxId, b.mailboxId],
      campaign_id: [a.campaignId, b.campaignId],
      lead_id: [a.leadId, b.leadId],
      user_id: [a.userId, b.userId],
      sequence_step_id: [a.stepId, b.stepId],
      message_id: [...a.messageIds, ...b.messageIds],
      parent_message_id: [a.messageId, b.messageId],
      in_reply_to: [a.providerMessageId, b.providerMessageId, '<unknown@mail.example>'],
      references: [a.providerMessageId, b.providerMessageId],
      content_storage_key: [`${a.tenantId}/2026/11/${randomUUID()}`, `${b.tenantId}/2026/11/${randomUUID()}`, ''],
      timezone: ['UTC', 'Europe/Paris', 'America/New_York'],
      name: ['Acme renamed', 'Q4 outreach'],
      email: Array.from({ length: 30 }, (_, i) => `lead${i}@example.com`),
      to_email: ['ada@example.com', 'grace@example.org'],
      from_email: ['sender@acme.example'],
      first_name: ['Ada', 'Grace'],
      last_name: ['Lovelace', 'Hopper'],
      subject: ['Quick question', 'Re: Quick question'],
      subject_template_key: ['intro-1', 'follow-up-2'],
      body_template_key: ['intro-body-1', 'follow-up-body-2'],
      provider_message_id: Array.from({ length: 30 }, () => `<${randomUUID()}@mail.example>`),
      client_key: Array.from({ length: 30 }, () => `send-${randomUUID()}`),
      content_text: ['Hi Ada, a quick question.'],
      content_html: ['<p>Hi Ada, a quick question.</p>'],
    },
    // Plausible requests name tenant Acme's rows only, in every field, so they pass the tenant
    // checks and reach the writes; the pools above mix both tenants to probe those checks.
    plausiblePools: {
      tenant_id: [a.tenantId],
      email_account_id: [a.mailboxId],
      campaign_id: [a.campaignId],
      lead_id: [a.leadId],
      user_id: [a.userId],
      sequence_step_id: [a.stepId],
      message_id: a.messageIds,
      parent_message_id: [a.messageId],
      in_reply_to: [a.providerMessageId, '<unknown@mail.example>', ''],
      references: [a.providerMessageId, ''],
      content_storage_key: [`${a.tenantId}/2026/11/${randomUUID()}`, ''],
    },
    numberPools: {
      step_number: [1, 2, 3, 4, 5],
      delay_minutes: [0, 60, 1440],
      // instants of the past week, so ranges (ListMessages' created, updated) can be valid
      seconds: [7, 3, 1, 0.25].map((days) => hour - days * 86_400),
    },
    // A new message's status and bounce type are their defaults unless the type calls for them.
    methodPools: {
      RecordMessage: { numberPools: newMessage },
      BatchRecordMessages: { numberPools: newMessage },
      // IngestMessage chooses the storage key itself; an import names its parent by id, not by Message-ID.
      IngestMessage: { numberPools: newMessage, plausiblePools: { content_storage_key: [''] } },
      // One instant for created and processed (processed may not precede created), fresh ids.
      ImportMessages: {
        numberPools: { ...newMessage, seconds: [hour - 3 * 86_400], nanos: [0] },
        plausiblePools: { in_reply_to: [''], references: [''], id: Array.from({ length: 60 }, () => randomUUID()) },
      },
      // Addresses no CreateUser / CreateLead took (their email pool), so an update is not refused as a duplicate.
      UpdateUser: { plausiblePools: { email: Array.from({ length: 30 }, (_, i) => `renamed${i}@example.com`) } },
      UpdateLead: { plausiblePools: { email: Array.from({ length: 30 }, (_, i) => `moved${i}@example.com`) } },
      DeleteUser: { pools: { user_id: [...a.spare.users, ...b.spare.users] }, plausiblePools: { user_id: a.spare.users } },
      DeleteLead: { pools: { lead_id: [...a.spare.leads, ...b.spare.leads] }, plausiblePools: { lead_id: a.spare.leads } },
      DeleteSequenceStep: { pools: { sequence_step_id: [...a.spare.steps, ...b.spare.steps] }, plausiblePools: { sequence_step_id: a.spare.steps } },
    },
  });
}, 60_000);

afterAll(async () => {
  if (fuzz) {
    process.stdout.write('\n' + fuzz.summary() + '\n');
    fuzz.writeResults('metadata');
    fuzz.close();
  }
  await h?.stop();
});

test('the fuzzed methods are every method of the descriptor and of the server', () => {
  const served = Object.values(M.MetadataServiceService).map((d) => d.path).sort();
  expect(spec.methods.map((m) => m.path).sort()).toEqual(served);
  expect([...order].sort()).toEqual(spec.methods.map((m) => m.name).sort());
});

const timeout = 60_000 + settings.runs * 2 * settings.timeoutMs;
describe.each(order)('fuzz %s', (method) => {
  const run = skipped(method) ? test.skip : test;
  run('hostile input gets an actionable code, in time, writes nothing when refused, and the server keeps SERVING', async () => {
    await fuzz.fuzzMethod(method);
  }, timeout);
});

function skipped(method: string): boolean {
  return Boolean(settings.replay && settings.replay.method !== method);
}

/** Every row reads back: a poison row stored by an accepted call would answer INTERNAL here. */
test('every stored row can be read back through the API', async () => {
  const bad: string[] = [];
  let calls = 0;
  const read = async <M extends Method>(rpc: M, req: PartialRequest<M>): Promise<ResponseOf<M> | undefined> => {
    calls++;
    try {
      return await h.rpc(rpc, req);
    } catch (e) {
      const err = e as ServiceError;
      if (isBadCode(err.code)) bad.push(`${rpc}(${JSON.stringify(req).slice(0, 200)}): ${Status[err.code]} ${err.details}`);
      return undefined;
    }
  };
  /** Every page of a list; `rowsOf` picks the list's rows from a response. */
  const listAll = async <M extends Method>(rpc: M, rowsOf: (res: ResponseOf<M>) => { page?: commonV1.PageResponse; rows: unknown[] }, req: PartialRequest<M>) => {
    let token = '';
    for (let i = 0; i < 1000; i++) {
      const res = await read(rpc, { ...req, page: { pageSize: 100, pageToken: token } });
      if (!res) return;
      const { page, rows } = rowsOf(res);
      token = page?.nextPageToken ?? '';
      if (!token || !(rows.length > 0)) return;
    }
  };
  const { rows: tenants } = await h.pool.query<{ id: string }>('select id::text from tenants order by id');
  for (const { id: tenantId } of tenants) {
    await read('getTenant', { tenantId });
    await listAll('listUsers', (r) => ({ page: r.page, rows: r.users }), { tenantId });
    await listAll('listEmailAccounts', (r) => ({ page: r.page, rows: r.emailAccounts }), { tenantId });
    await listAll('listLeads', (r) => ({ page: r.page, rows: r.leads }), { tenantId });
    await listAll('listCampaigns', (r) => ({ page: r.page, rows: r.campaigns }), { tenantId });
    await listAll('listMessages', (r) => ({ page: r.page, rows: r.messages }), { tenantId });
  }
  // Get each row (up to 300 per table, the newest first: fuzzed rows before the seeded ones).
  const rows = async (table: string) =>
    (await h.pool.query<{ id: string; tenant_id: string }>(`select id::text, tenant_id::text from ${table} order by created desc, id limit 300`)).rows;
  for (const r of await rows('users')) await read('getUser', { tenantId: r.tenant_id, userId: r.id });
  for (const r of await rows('email_accounts')) await read('getEmailAccount', { tenantId: r.tenant_id, emailAccountId: r.id });
  for (const r of await rows('leads')) await read('getLead', { tenantId: r.tenant_id, leadId: r.id });
  for (const r of await rows('campaigns')) {
    await read('getCampaign', { tenantId: r.tenant_id, campaignId: r.id });
    await read('listSequenceSteps', { tenantId: r.tenant_id, campaignId: r.id });
  }
  for (const r of await rows('campaign_sequence_steps')) await read('getSequenceStep', { tenantId: r.tenant_id, sequenceStepId: r.id });
  for (const r of await rows('inbox_message_refs')) {
    await read('getMessage', { tenantId: r.tenant_id, messageId: r.id });
    await read('getThread', { tenantId: r.tenant_id, messageId: r.id });
  }
  process.stdout.write(`metadata read-back: ${tenants.length} tenants, ${calls} calls, ${bad.length} unreadable\n`);
  expect(bad).toEqual([]);
}, 300_000);
