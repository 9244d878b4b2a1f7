import { M, OTHER_UUID, Status, counts, expectError, outOfEnum, seedTenant, startHarness, type Harness } from './harness';

let h: Harness;
let t: Awaited<ReturnType<typeof seedTenant>>;
let other: Awaited<ReturnType<typeof seedTenant>>;
beforeAll(async () => {
  h = await startHarness({ importLeadsMax: 3000, pageSizeMax: 100 });
  t = await seedTenant(h, 'Acme');
  other = await seedTenant(h, 'Globex');
});
afterAll(() => h.stop());

describe('tenants', () => {
  it('create with a given id, get, update; unknown → NOT_FOUND; bad input writes nothing', async () => {
    const id = '3f1c2b0e-8d4a-4c1e-9b7a-2a6f0c5d9e11';
    const { tenant } = await h.rpc('createTenant', { tenantId: id, name: 'Initech' });
    expect(tenant).toMatchObject({ id, name: 'Initech', status: M.TenantStatus.TENANT_STATUS_ACTIVE });
    await expectError(h.rpc('createTenant', { tenantId: id, name: 'Again' }), Status.ALREADY_EXISTS);
    const up = await h.rpc('updateTenant', { tenantId: id, status: M.TenantStatus.TENANT_STATUS_ARCHIVED });
    expect(up.tenant).toMatchObject({ name: 'Initech', status: M.TenantStatus.TENANT_STATUS_ARCHIVED });
    expect((await h.rpc('getTenant', { tenantId: id })).tenant!.status).toBe(M.TenantStatus.TENANT_STATUS_ARCHIVED);
    await expectError(h.rpc('getTenant', { tenantId: OTHER_UUID }), Status.NOT_FOUND);
    const before = await counts(h.pool);
    await expectError(h.rpc('createTenant', { name: 'n'.repeat(201) }), Status.INVALID_ARGUMENT, 'name');
    await expectError(h.rpc('updateTenant', { tenantId: id, status: outOfEnum(12) }), Status.INVALID_ARGUMENT, 'status');
    expect(await counts(h.pool)).toEqual(before);
  });
});

describe('users', () => {
  it('CRUD, list with filters, unique email per tenant, tenant scoping', async () => {
    const { user } = await h.rpc('createUser', { tenantId: t.tenantId, email: 'Owner@Acme.example', name: 'Olga', role: M.UserRole.USER_ROLE_OWNER });
    expect(user).toMatchObject({ email: 'owner@acme.example', role: M.UserRole.USER_ROLE_OWNER, status: M.UserStatus.USER_STATUS_ACTIVE });
    await expectError(h.rpc('createUser', { tenantId: t.tenantId, email: 'owner@acme.example' }), Status.ALREADY_EXISTS);
    await h.rpc('createUser', { tenantId: other.tenantId, email: 'owner@acme.example' }); // other tenant: fine
    await h.rpc('createUser', { tenantId: t.tenantId, email: 'm@acme.example' });
    const up = await h.rpc('updateUser', { tenantId: t.tenantId, userId: user!.id, status: M.UserStatus.USER_STATUS_DISABLED });
    expect(up.user!.status).toBe(M.UserStatus.USER_STATUS_DISABLED);
    const list = await h.rpc('listUsers', { tenantId: t.tenantId, role: M.UserRole.USER_ROLE_MEMBER });
    expect(list.users.map((u: { email: string }) => u.email)).toEqual(['m@acme.example']);
    await expectError(h.rpc('getUser', { tenantId: other.tenantId, userId: user!.id }), Status.NOT_FOUND);
    await expectError(h.rpc('updateUser', { tenantId: other.tenantId, userId: user!.id, name: 'x' }), Status.NOT_FOUND);
    await expectError(h.rpc('deleteUser', { tenantId: other.tenantId, userId: user!.id }), Status.NOT_FOUND);
    await h.rpc('deleteUser', { tenantId: t.tenantId, userId: user!.id });
    await expectError(h.rpc('getUser', { tenantId: t.tenantId, userId: user!.id }), Status.NOT_FOUND);
    const before = await counts(h.pool);
    await expectError(h.rpc('createUser', { tenantId: t.tenantId, email: `${'a'.repeat(250)}@x.example` }), Status.INVALID_ARGUMENT, 'email');
    await expectError(h.rpc('createUser', { tenantId: t.tenantId, email: 'not-an-email' }), Status.INVALID_ARGUMENT, 'email');
    await expectError(h.rpc('createUser', { tenantId: t.tenantId, email: 'r@acme.example', role: outOfEnum(9) }), Status.INVALID_ARGUMENT, 'role');
    await expectError(h.rpc('createUser', { tenantId: OTHER_UUID, email: 'r@acme.example' }), Status.NOT_FOUND);
    await expectError(h.rpc('listUsers', { tenantId: t.tenantId, page: { pageSize: 101 } }), Status.INVALID_ARGUMENT, 'page.page_size');
    expect(await counts(h.pool)).toEqual(before);
  });
});

describe('email accounts', () => {
  it('CRUD and list, archived not deleted', async () => {
    const { emailAccount } = await h.rpc('createEmailAccount', { tenantId: t.tenantId, email: 'ops@acme.example', provider: M.EmailProvider.EMAIL_PROVIDER_SMTP, dailySendLimit: 200 });
    expect(emailAccount).toMatchObject({ dailySendLimit: 200, status: M.EmailAccountStatus.EMAIL_ACCOUNT_STATUS_ACTIVE });
    await expectError(h.rpc('createEmailAccount', { tenantId: t.tenantId, email: 'ops@acme.example', provider: 1 }), Status.ALREADY_EXISTS);
    const up = await h.rpc('updateEmailAccount', { tenantId: t.tenantId, emailAccountId: emailAccount!.id, status: M.EmailAccountStatus.EMAIL_ACCOUNT_STATUS_ARCHIVED });
    expect(up.emailAccount!.status).toBe(M.EmailAccountStatus.EMAIL_ACCOUNT_STATUS_ARCHIVED);
    const list = await h.rpc('listEmailAccounts', { tenantId: t.tenantId, provider: M.EmailProvider.EMAIL_PROVIDER_SMTP });
    expect(list.emailAccounts.map((a: { id: string }) => a.id)).toEqual([emailAccount!.id]);
    await expectError(h.rpc('getEmailAccount', { tenantId: other.tenantId, emailAccountId: emailAccount!.id }), Status.NOT_FOUND);
    const before = await counts(h.pool);
    await expectError(h.rpc('createEmailAccount', { tenantId: t.tenantId, email: 'x@acme.example', provider: 0 }), Status.INVALID_ARGUMENT, 'provider');
    await expectError(h.rpc('createEmailAccount', { tenantId: t.tenantId, email: 'x@acme.example', provider: 1, dailySendLimit: -1 }), Status.INVALID_ARGUMENT, 'daily_send_limit');
    expect(await counts(h.pool)).toEqual(before);
  });
});

describe('leads', () => {
  it('create, get, update, list, delete (refs keep their metadata)', async () => {
    const { lead } = await h.rpc('createLead', { tenantId: t.tenantId, lead: { email: 'bob@lead.example', firstName: 'Bob', customFields: { source: 'csv', score: 3 } } });
    expect(lead).toMatchObject({ email: 'bob@lead.example', status: M.LeadStatus.LEAD_STATUS_NEW, customFields: { source: 'csv', score: 3 } });
    await expectError(h.rpc('createLead', { tenantId: t.tenantId, lead: { email: 'bob@lead.example' } }), Status.ALREADY_EXISTS);
    const up = await h.rpc('updateLead', { tenantId: t.tenantId, leadId: lead!.id, status: M.LeadStatus.LEAD_STATUS_INTERESTED, company: 'Bob Inc' });
    expect(up.lead).toMatchObject({ company: 'Bob Inc', status: M.LeadStatus.LEAD_STATUS_INTERESTED, firstName: 'Bob' });
    const list = await h.rpc('listLeads', { tenantId: t.tenantId, status: M.LeadStatus.LEAD_STATUS_INTERESTED });
    expect(list.leads.map((l: { id: string }) => l.id)).toEqual([lead!.id]);
    const rec = await h.rpc('recordMessage', {
      tenantId: t.tenantId,
      message: { emailAccountId: t.mailboxId, leadId: lead!.id, direction: 2, fromEmail: 'a@acme.example', toEmail: 'bob@lead.example', clientKey: 'k-bob' },
    });
    await expectError(h.rpc('deleteLead', { tenantId: other.tenantId, leadId: lead!.id }), Status.NOT_FOUND);
    await h.rpc('deleteLead', { tenantId: t.tenantId, leadId: lead!.id });
    await expectError(h.rpc('getLead', { tenantId: t.tenantId, leadId: lead!.id }), Status.NOT_FOUND);
    const kept = await h.rpc('getMessage', { tenantId: t.tenantId, messageId: rec.message!.id });
    expect(kept.message!.leadId).toBe('');
  });

  it('imports thousands in one call, skipping known and repeated addresses, one event per new lead', async () => {
    const leads = Array.from({ length: 2500 }, (_, i) => ({ email: `l${i}@import.example`, firstName: `L${i}`, customFields: { row: i } }));
    leads.push({ email: 'l7@import.example', firstName: 'dup', customFields: { row: -1 } });
    const before = await counts(h.pool);
    const started = Date.now();
    const res = await h.rpc('importLeads', { tenantId: t.tenantId, leads });
    const ms = Date.now() - started;
    expect(res.createdCount).toBe(2500);
    expect(res.skippedEmails).toEqual(['l7@import.example']);
    const after = await counts(h.pool);
    expect(after.leads - before.leads).toBe(2500);
    expect(after.outbox_events - before.outbox_events).toBe(2500);
    expect(ms).toBeLessThan(10_000);
    const again = await h.rpc('importLeads', { tenantId: t.tenantId, leads: leads.slice(0, 10) });
    expect(again.createdCount).toBe(0);
    expect(again.skippedEmails).toHaveLength(10);
    // Pages of the tenant's leads: no duplicates, all there.
    const seen = new Set<string>();
    let token = '';
    do {
      const page = await h.rpc('listLeads', { tenantId: t.tenantId, page: { pageSize: 100, pageToken: token } });
      for (const l of page.leads) {
        expect(seen.has(l.id)).toBe(false);
        seen.add(l.id);
      }
      token = page.page!.nextPageToken;
    } while (token);
    expect(seen.size).toBe(after.leads - (await h.pool.query(`select count(*)::int as n from leads where tenant_id <> $1`, [t.tenantId])).rows[0].n);
  });

  it('bad rows → INVALID_ARGUMENT naming leads[i], nothing written; too many → INVALID_ARGUMENT', async () => {
    const before = await counts(h.pool);
    await expectError(
      h.rpc('importLeads', { tenantId: t.tenantId, leads: [{ email: 'ok@x.example' }, { email: 'broken' }] }),
      Status.INVALID_ARGUMENT,
      'leads[1].email',
    );
    await expectError(h.rpc('importLeads', { tenantId: t.tenantId, leads: Array.from({ length: 3001 }, (_, i) => ({ email: `m${i}@x.example` })) }), Status.INVALID_ARGUMENT, 'leads');
    await expectError(h.rpc('createLead', { tenantId: t.tenantId, lead: { email: 'a@x.example', status: outOfEnum(55) } }), Status.INVALID_ARGUMENT, 'lead.status');
    expect(await counts(h.pool)).toEqual(before);
  });
});

describe('campaigns and sequence steps', () => {
  it('create/get/update/list, status transitions with events, steps only while draft or paused', async () => {
    const { campaign } = await h.rpc('createCampaign', {
      tenantId: t.tenantId,
      name: 'Launch',
      schedule: { timezone: 'Europe/Berlin', windowStartMinute: 480, windowEndMinute: 960, sendDays: [1, 3, 5] },
    });
    expect(campaign).toMatchObject({ status: M.CampaignStatus.CAMPAIGN_STATUS_DRAFT, schedule: { timezone: 'Europe/Berlin', sendDays: [1, 3, 5] } });
    const s1 = await h.rpc('createSequenceStep', { tenantId: t.tenantId, campaignId: campaign!.id, stepNumber: 1, delayMinutes: 0, subjectTemplateKey: 'tpl/s1', bodyTemplateKey: 'tpl/b1' });
    await h.rpc('createSequenceStep', { tenantId: t.tenantId, campaignId: campaign!.id, stepNumber: 2, delayMinutes: 1440, subjectTemplateKey: 'tpl/s2', bodyTemplateKey: 'tpl/b2' });
    await expectError(
      h.rpc('createSequenceStep', { tenantId: t.tenantId, campaignId: campaign!.id, stepNumber: 2, subjectTemplateKey: 'x', bodyTemplateKey: 'y' }),
      Status.ALREADY_EXISTS,
    );
    const up = await h.rpc('updateSequenceStep', { tenantId: t.tenantId, sequenceStepId: s1.step!.id, delayMinutes: 5 });
    expect(up.step!.delayMinutes).toBe(5);
    expect((await h.rpc('getSequenceStep', { tenantId: t.tenantId, sequenceStepId: s1.step!.id })).step!.delayMinutes).toBe(5);
    const steps = await h.rpc('listSequenceSteps', { tenantId: t.tenantId, campaignId: campaign!.id });
    expect(steps.steps.map((s: { stepNumber: number }) => s.stepNumber)).toEqual([1, 2]);

    const outbox0 = (await counts(h.pool)).outbox_events;
    const st = (s: number) => h.rpc('updateCampaignStatus', { tenantId: t.tenantId, campaignId: campaign!.id, status: s });
    await st(M.CampaignStatus.CAMPAIGN_STATUS_ACTIVE);
    await expectError(h.rpc('deleteSequenceStep', { tenantId: t.tenantId, sequenceStepId: s1.step!.id }), Status.FAILED_PRECONDITION);
    await expectError(st(M.CampaignStatus.CAMPAIGN_STATUS_DRAFT), Status.FAILED_PRECONDITION);
    await st(M.CampaignStatus.CAMPAIGN_STATUS_PAUSED);
    await h.rpc('deleteSequenceStep', { tenantId: t.tenantId, sequenceStepId: s1.step!.id });
    await st(M.CampaignStatus.CAMPAIGN_STATUS_ARCHIVED);
    await expectError(st(M.CampaignStatus.CAMPAIGN_STATUS_ACTIVE), Status.FAILED_PRECONDITION);
    expect((await counts(h.pool)).outbox_events - outbox0).toBe(3);

    const ren = await h.rpc('updateCampaign', { tenantId: t.tenantId, campaignId: campaign!.id, name: 'Launch 2' });
    expect(ren.campaign!.name).toBe('Launch 2');
    expect((await h.rpc('getCampaign', { tenantId: t.tenantId, campaignId: campaign!.id })).campaign!.status).toBe(M.CampaignStatus.CAMPAIGN_STATUS_ARCHIVED);
    const list = await h.rpc('listCampaigns', { tenantId: t.tenantId, status: M.CampaignStatus.CAMPAIGN_STATUS_ARCHIVED });
    expect(list.campaigns.map((c: { id: string }) => c.id)).toEqual([campaign!.id]);

    await expectError(h.rpc('getCampaign', { tenantId: other.tenantId, campaignId: campaign!.id }), Status.NOT_FOUND);
    await expectError(h.rpc('updateCampaignStatus', { tenantId: other.tenantId, campaignId: campaign!.id, status: 3 }), Status.NOT_FOUND);
    await expectError(h.rpc('listSequenceSteps', { tenantId: other.tenantId, campaignId: campaign!.id }), Status.NOT_FOUND);
    const before = await counts(h.pool);
    await expectError(h.rpc('createCampaign', { tenantId: t.tenantId, name: 'x', schedule: { timezone: 'Mars/Olympus' } }), Status.INVALID_ARGUMENT, 'schedule.timezone');
    await expectError(h.rpc('createCampaign', { tenantId: t.tenantId, name: '' }), Status.INVALID_ARGUMENT, 'name');
    await expectError(h.rpc('createSequenceStep', { tenantId: t.tenantId, campaignId: other.campaignId, stepNumber: 1, subjectTemplateKey: 'a', bodyTemplateKey: 'b' }), Status.NOT_FOUND);
    await expectError(h.rpc('createSequenceStep', { tenantId: t.tenantId, campaignId: t.campaignId, stepNumber: 0, subjectTemplateKey: 'a', bodyTemplateKey: 'b' }), Status.INVALID_ARGUMENT, 'step_number');
    expect(await counts(h.pool)).toEqual(before);
  });
});
