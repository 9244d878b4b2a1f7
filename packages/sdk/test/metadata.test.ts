// Tenants, users, campaigns and error wrapping against the real metadata service. Only RPCs that
// existed before issue 8, but the metadata service must start: in the h-sdk8 branch it does
// not build until IngestMessage is implemented (see the README).
import { Client } from 'pg';
import { randomUUID } from 'node:crypto';
import { metadataV1 } from '@penguinmails/contracts';
import { startPlatform, type Platform } from '@penguinmails/testkit';
import { PenguinMailsError, createPlatform, type PenguinMails } from '../src';

let platform: Platform;
let pm: PenguinMails;
beforeAll(async () => {
  platform = await startPlatform({ services: ['metadata'] });
  pm = createPlatform({ addresses: platform.addresses }, { env: {} });
});
afterAll(async () => {
  pm?.close();
  await platform?.stop();
});

async function userRow(id: string) {
  const db = new Client({ connectionString: platform.env.metadata.DATABASE_URL });
  await db.connect();
  try {
    return (await db.query('select email, name, role, status from users where id = $1', [id])).rows[0];
  } finally {
    await db.end();
  }
}

test('createTenant and getTenant', async () => {
  const { tenant } = await pm.metadata.createTenant({ name: 'Acme' });
  expect(tenant).toMatchObject({ name: 'Acme', status: metadataV1.TenantStatus.TENANT_STATUS_ACTIVE });
  expect((await pm.metadata.getTenant({ tenantId: tenant!.id })).tenant).toEqual(tenant);
});

test('createUser from an untyped object with missing fields stores empty defaults, not "undefined"', async () => {
  const { tenant } = await pm.metadata.createTenant({ name: 'Plain JS' });
  // Exactly what a plain-JS caller sent through call(client, 'createUser', {...}) before the SDK:
  // no name, no role, no status (and an explicit undefined).
  const untyped: Record<string, unknown> = { tenantId: tenant!.id, email: 'ana@example.com', name: undefined };
  const { user } = await (pm.metadata.createUser as (r: unknown) => Promise<metadataV1.CreateUserResponse>)(untyped);
  expect(user).toMatchObject({ name: '', role: metadataV1.UserRole.USER_ROLE_MEMBER, status: metadataV1.UserStatus.USER_STATUS_ACTIVE });
  const row = await userRow(user!.id);
  // The service keeps an empty name as NULL; either way it is empty, never the text "undefined".
  expect(row).toMatchObject({ email: 'ana@example.com', role: 'member', status: 'active' });
  expect(['', null]).toContain(row.name);
});

test('campaigns: create and list', async () => {
  const { tenant } = await pm.metadata.createTenant({ name: 'Campaigns' });
  const tenantId = tenant!.id;
  const a = await pm.metadata.createCampaign({ tenantId, name: 'Spring' });
  const b = await pm.metadata.createCampaign({ tenantId, name: 'Summer', schedule: { timezone: 'Europe/Berlin' } });
  const { campaigns } = await pm.metadata.listCampaigns({ tenantId });
  expect(campaigns.map((c) => c.name)).toEqual(['Summer', 'Spring']);
  expect(campaigns[0].id).toBe(b.campaign!.id);
  expect(a.campaign!.status).toBe(metadataV1.CampaignStatus.CAMPAIGN_STATUS_DRAFT);
});

test('errors are PenguinMailsError with the field violations and resource', async () => {
  const bad = await pm.metadata.listCampaigns({ tenantId: 'nope' }).catch((e) => e);
  expect(bad).toBeInstanceOf(PenguinMailsError);
  expect(bad).toMatchObject({ codeName: 'INVALID_ARGUMENT', domain: 'penguinmails.metadata', rpc: 'metadata.listCampaigns' });
  expect(bad.fieldViolations[0].field).toBe('tenant_id');
  expect(bad.message).toMatch(/^tenant_id: /);
  const missing = await pm.metadata.getCampaign({ tenantId: randomUUID(), campaignId: randomUUID() }).catch((e) => e);
  expect(missing).toMatchObject({ codeName: 'NOT_FOUND', reason: 'NOT_FOUND' });
  expect(missing.resource?.type).toBeTruthy();
});

test('a create without a key is not retried when metadata is down; a read waits for the restart', async () => {
  const { tenant } = await pm.metadata.createTenant({ name: 'Restart' });
  await platform.kill('metadata', 'SIGKILL');
  const create = await pm.metadata.createCampaign({ tenantId: tenant!.id, name: 'x' }).catch((e) => e);
  expect(create).toMatchObject({ codeName: 'UNAVAILABLE', attempts: 1 });
  const restarting = new Promise((r) => setTimeout(r, 500)).then(() => platform.restart('metadata'));
  const read = await pm.metadata.getTenant({ tenantId: tenant!.id }, { deadlineMs: 30_000, retry: { maxAttempts: 50, maxBackoffMs: 500 } });
  await restarting;
  expect(read.tenant!.id).toBe(tenant!.id);
  expect((await pm.metadata.listCampaigns({ tenantId: tenant!.id })).campaigns).toEqual([]);
});
