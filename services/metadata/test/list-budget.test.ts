import { seedTenant, startHarness, type Harness } from './harness';

// A ListLeads page holds fewer leads than page_size when their custom fields would not fit in
// one reply (src/domain/leads.ts, the kit's listPage budget). Here the server sends at most
// 256 KiB and each lead carries ~15 KB of custom fields (~60 KB as a Struct at most), so a page
// of 40 cannot fit: before, grpc-js refused it (RESOURCE_EXHAUSTED) and nobody could list past it.

let h: Harness;
beforeAll(async () => {
  h = await startHarness({ pageSizeMax: 100 }, { authTokens: [], limits: { maxSendBytes: 256 * 1024 } });
});
afterAll(async () => {
  await h?.stop();
});

it('ListLeads: 40 leads with ~15 KB custom fields, every lead listed once over pages of fewer than page_size', async () => {
  const t = await seedTenant(h);
  for (let i = 0; i < 40; i++) {
    await h.rpc('createLead', { tenantId: t.tenantId, lead: { email: `lead${i}@big.example`, customFields: { note: 'n'.repeat(15_000), i } } });
  }
  const sizes: number[] = [];
  const emails: string[] = [];
  let pageToken = '';
  do {
    const r = await h.rpc('listLeads', { tenantId: t.tenantId, page: { pageSize: 40, pageToken } });
    for (const l of r.leads) if (l.email.endsWith('@big.example')) expect((l.customFields as { note: string }).note).toHaveLength(15_000);
    sizes.push(r.leads.length);
    emails.push(...r.leads.map((l) => l.email));
    pageToken = r.page?.nextPageToken ?? '';
  } while (pageToken !== '' && sizes.length < 50);
  // seedTenant's own lead and the 40, each once
  expect(emails).toHaveLength(41);
  expect(new Set(emails.filter((e) => e.endsWith('@big.example'))).size).toBe(40);
  expect(Math.max(...sizes)).toBeLessThan(40);
});
