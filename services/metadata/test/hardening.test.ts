// Regression tests for the hardening issue's findings against the metadata service, and its
// tenant-bound tokens. Each case once crashed the process, hung the call, answered INTERNAL,
// or stored a row that could not be read back.
import { randomUUID } from 'node:crypto';
import type { ServiceError } from '@grpc/grpc-js';
import { googleProtobuf } from '@penguinmails/contracts';
import { call, connect, decodeStatus } from '@penguinmails/service-kit';
import { callRaw, healthCheck, lenField, varintField } from '@penguinmails/testkit';
import { M, Status, expectError, harnessWithTenant, snapshot, startHarness, type Harness } from './harness';

const ASTRAL = '😀'.repeat(40);
const failure = (p: Promise<unknown>) => p.then(() => Promise.reject(new Error('expected a failure')), (e: ServiceError) => decodeStatus(e));

describe('hostile input the service once failed on', () => {
  const ctx = harnessWithTenant();

  it('1. astral text cut in a status message does not end the process', async () => {
    const { h, t } = ctx();
    const before = await snapshot(h.pool);
    for (let n = 1; n < 8; n++) {
      await expectError(h.rpc('createUser', { tenantId: ASTRAL.slice(0, 2 * n + 1) + ASTRAL, email: 'a@b.example' }), Status.INVALID_ARGUMENT, 'tenant_id');
      await expectError(h.rpc('getUser', { tenantId: t.tenantId, userId: 'x'.repeat(n) + ASTRAL }), Status.INVALID_ARGUMENT, 'user_id');
    }
    expect(await healthCheck(h.address)).toBe('SERVING');
    expect(await snapshot(h.pool)).toEqual(before);
  });

  it('2. a 70,000-character value and 5,000 violations answer at once, bounded', async () => {
    const { h, t } = ctx();
    const before = await snapshot(h.pool);
    const started = Date.now();
    const tz = await failure(h.rpc('updateCampaign', { tenantId: t.tenantId, campaignId: t.campaignId, schedule: { timezone: 'Z'.repeat(70_000) } }));
    expect(tz.code).toBe(Status.INVALID_ARGUMENT);
    expect(tz.fieldViolations.map((v) => v.field)).toContain('schedule.timezone');
    const leads = await failure(h.rpc('importLeads', { tenantId: t.tenantId, leads: Array.from({ length: 5_000 }, (_, i) => ({ email: `not-an-email-${i}` })) }));
    expect(leads.code).toBe(Status.INVALID_ARGUMENT);
    expect(leads.fieldViolations).toHaveLength(21);
    expect(leads.fieldViolations[20].description).toMatch(/4980 more/);
    const msgs = await failure(
      h.rpc('batchRecordMessages', { tenantId: t.tenantId, messages: Array.from({ length: 1_000 }, () => ({ subject: 'x'.repeat(600) })) }),
    );
    expect(msgs.code).toBe(Status.INVALID_ARGUMENT);
    expect(msgs.fieldViolations.length).toBeLessThanOrEqual(21);
    expect(Date.now() - started).toBeLessThan(5_000);
    expect(await snapshot(h.pool)).toEqual(before);
  });

  it('3. a Timestamp beyond JavaScript safe integers is INVALID_ARGUMENT, not INTERNAL', async () => {
    const { h, t } = ctx();
    const before = await snapshot(h.pool);
    const ts = googleProtobuf.Timestamp.encode({ seconds: 2n ** 60n, nanos: 0 }).finish();
    const body = Buffer.concat([
      lenField(1, Buffer.from(t.tenantId)),
      lenField(2, Buffer.from('far future')),
      lenField(3, lenField(5, ts)), // schedule.start_at
    ]);
    const err = await callRaw(h.address, '/penguinmails.metadata.v1.MetadataService/CreateCampaign', body).catch((e: ServiceError) => e);
    const st = decodeStatus(err as ServiceError);
    expect(st.code).toBe(Status.INVALID_ARGUMENT);
    expect(st.fieldViolations.map((v) => v.field)).toEqual(['schedule.start_at']);
    // An int32 field sent as a 64-bit varint, and a negative enum: decoded, then validated.
    const weird = Buffer.concat([lenField(1, Buffer.from(t.tenantId)), lenField(2, Buffer.from('x@y.example')), varintField(4, -5n)]);
    const err2 = await callRaw(h.address, '/penguinmails.metadata.v1.MetadataService/CreateEmailAccount', weird).catch((e: ServiceError) => e);
    expect(decodeStatus(err2 as ServiceError).code).toBe(Status.INVALID_ARGUMENT);
    expect(await snapshot(h.pool)).toEqual(before);
  });

  it('4. a start_at in the year 10000 is refused, so no row exists that cannot be read back', async () => {
    const { h, t } = ctx();
    const before = await snapshot(h.pool);
    await expectError(
      h.rpc('createCampaign', { tenantId: t.tenantId, name: 'y10k', schedule: { startAt: new Date('+010000-01-01T00:00:00Z') } }),
      Status.INVALID_ARGUMENT,
      'schedule.start_at',
    );
    await expectError(
      h.rpc('updateCampaign', { tenantId: t.tenantId, campaignId: t.campaignId, schedule: { startAt: new Date('-000001-06-01T00:00:00Z') } }),
      Status.INVALID_ARGUMENT,
      'schedule.start_at',
    );
    expect(await snapshot(h.pool)).toEqual(before);
    // The edges of the range are stored and read back.
    const { campaign } = await h.rpc('createCampaign', { tenantId: t.tenantId, name: 'edge', schedule: { startAt: new Date('9999-12-31T23:59:59Z') } });
    const got = await h.rpc('getCampaign', { tenantId: t.tenantId, campaignId: campaign!.id });
    expect(got.campaign!.schedule!.startAt!.toISOString()).toBe('9999-12-31T23:59:59.000Z');
  });

  it('5. NUL in text and in jsonb (custom fields) is INVALID_ARGUMENT naming the field', async () => {
    const { h, t } = ctx();
    const before = await snapshot(h.pool);
    await expectError(h.rpc('createLead', { tenantId: t.tenantId, lead: { email: 'n@ul.example', customFields: { note: 'a\u0000b' } } }), Status.INVALID_ARGUMENT, 'lead.custom_fields.note');
    await expectError(h.rpc('createLead', { tenantId: t.tenantId, lead: { email: 'n@ul.example', customFields: { 'k\u0000': 1 } } }), Status.INVALID_ARGUMENT, 'lead.custom_fields');
    await expectError(h.rpc('createUser', { tenantId: t.tenantId, email: 'n@ul.example', name: 'Nul\u0000' }), Status.INVALID_ARGUMENT, 'name');
    // A lone surrogate can only arrive as bytes (our client's encoder would replace it): ED A0 80.
    const lone = Buffer.concat([lenField(1, Buffer.from(t.tenantId)), lenField(2, lenField(10, Buffer.from([0x6c, 0xed, 0xa0, 0x80])))]);
    const err = await callRaw(h.address, '/penguinmails.metadata.v1.MetadataService/RecordMessage', lone).catch((e: ServiceError) => e);
    const st = decodeStatus(err as ServiceError);
    expect([st.code, st.fieldViolations.map((v) => v.field)]).toEqual([Status.INVALID_ARGUMENT, ['message.subject']]);
    expect(await snapshot(h.pool)).toEqual(before);
  });
});

describe("the call's deadline reaches PostgreSQL", () => {
  const ctx = harnessWithTenant();

  it('a write stuck on a lock past the deadline answers DEADLINE_EXCEEDED and never commits later', async () => {
    const { h, t } = ctx();
    const before = await snapshot(h.pool);
    // The foreign-key check of a new ref takes KEY SHARE on its mailbox: hold the mailbox.
    const blocker = await h.pool.connect();
    await blocker.query('begin');
    await blocker.query('select 1 from email_accounts where id = $1 for update', [t.mailboxId]);
    const started = Date.now();
    const req = M.RecordMessageRequest.fromPartial({
      tenantId: t.tenantId,
      message: { emailAccountId: t.mailboxId, direction: M.Direction.DIRECTION_OUTBOUND, messageType: M.MessageType.MESSAGE_TYPE_EMAIL, fromEmail: 'a@b.example', toEmail: 'c@d.example', providerMessageId: `<${randomUUID()}@x>` },
    });
    const st = await failure(call(h.client, 'recordMessage', req, { deadlineMs: 400 }));
    expect(st.code).toBe(Status.DEADLINE_EXCEEDED);
    expect(Date.now() - started).toBeLessThan(2_000);
    await blocker.query('rollback');
    blocker.release();
    await new Promise((r) => setTimeout(r, 300));
    expect(await snapshot(h.pool)).toEqual(before);
    const active = await h.pool.query("select count(*)::int as n from pg_stat_activity where datname = current_database() and pid <> pg_backend_pid() and state = 'active' and query ilike '%inbox_message_refs%'");
    expect(active.rows[0].n).toBe(0);
  });
});

describe('tenant-bound tokens', () => {
  let h: Harness;
  const tenantA = randomUUID();
  const tenantB = randomUUID();
  beforeAll(async () => {
    h = await startHarness({}, { authTokens: ['platform-token', `${tenantA}:tenant-a-token`] });
    const platform = connect(M.MetadataServiceClient, h.address, { token: 'platform-token' });
    await call(platform, 'createTenant', { tenantId: tenantA, name: 'A' });
    await call(platform, 'createTenant', { tenantId: tenantB, name: 'B' });
    platform.close();
  });
  afterAll(() => h.stop());

  it('act for their own tenant, get PERMISSION_DENIED for any other, and write nothing there', async () => {
    const a = connect(M.MetadataServiceClient, h.address, { token: 'tenant-a-token' });
    const { user } = await call(a, 'createUser', M.CreateUserRequest.fromPartial({ tenantId: tenantA, email: 'a@a.example' }));
    expect(user!.tenantId).toBe(tenantA);
    const before = await snapshot(h.pool);
    for (const req of [
      () => call(a, 'createUser', M.CreateUserRequest.fromPartial({ tenantId: tenantB, email: 'a@b.example' })),
      () => call(a, 'getTenant', M.GetTenantRequest.fromPartial({ tenantId: tenantB })),
      () => call(a, 'listUsers', M.ListUsersRequest.fromPartial({ tenantId: tenantB })),
      () => call(a, 'ingestMessage', M.IngestMessageRequest.fromPartial({ tenantId: tenantB, message: { providerMessageId: '<x@y>' }, body: { contentText: 'x' } })),
      () => call(a, 'createUser', M.CreateUserRequest.fromPartial({ tenantId: '', email: 'a@b.example' })),
      // Creating tenants and importing history are for platform tokens only.
      () => call(a, 'createTenant', M.CreateTenantRequest.fromPartial({ tenantId: tenantA, name: 'again' })),
      () => call(a, 'importMessages', M.ImportMessagesRequest.fromPartial({ tenantId: tenantA, messages: [{ message: { clientKey: 'k' } }] })),
    ]) {
      const st = await failure(req());
      expect(st.code).toBe(Status.PERMISSION_DENIED);
    }
    expect(await snapshot(h.pool)).toEqual(before);
    a.close();
  });

  it('a service-scope token acts for every tenant; no token is UNAUTHENTICATED', async () => {
    const p = connect(M.MetadataServiceClient, h.address, { token: 'platform-token' });
    await expect(call(p, 'getTenant', M.GetTenantRequest.fromPartial({ tenantId: tenantB }))).resolves.toMatchObject({ tenant: { id: tenantB } });
    p.close();
    const anon = connect(M.MetadataServiceClient, h.address);
    expect((await failure(call(anon, 'getTenant', M.GetTenantRequest.fromPartial({ tenantId: tenantA })))).code).toBe(Status.UNAUTHENTICATED);
    anon.close();
  });
});
