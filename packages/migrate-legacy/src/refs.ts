import type { Client } from 'pg';
import { metadataV1, PenguinMailsError, type PenguinMails } from '@penguinmails/sdk';

/**
 * The reference rows emails point at (tenants, mailboxes, campaigns, steps, leads), created in
 * the metadata tier through the SDK and remembered in `migrate_map(kind, legacy_id, new_id)`.
 * Only tenants keep their ids (CreateTenant takes one); the other Create RPCs make their own, so
 * the map is how refs find them. Idempotent without a key: what is not in the map is first
 * looked up by its natural key (mailbox address, campaign name, step number, lead address) in
 * the tier, so a run killed between a create and the map write does not create it twice.
 */
export async function migrateReferences(db: Client, pm: PenguinMails): Promise<Record<string, number>> {
  const done: Record<string, number> = { tenant: 0, mailbox: 0, campaign: 0, step: 0, lead: 0 };
  const map = async (kind: string, legacyId: string, newId: string) => {
    await db.query('insert into migrate_map (kind, legacy_id, new_id) values ($1,$2,$3) on conflict do nothing', [kind, legacyId, newId]);
    done[kind]++;
  };
  const tenants = await db.query<{ id: string; name: string }>(
    `select t.id, t.name from tenants t where not exists (select 1 from migrate_map m where m.kind = 'tenant' and m.legacy_id = t.id) order by t.id`,
  );
  for (const t of tenants.rows) {
    try {
      await pm.metadata.createTenant({ tenantId: t.id, name: t.name.slice(0, 200) });
    } catch (e) {
      if (!(e instanceof PenguinMailsError && e.codeName === 'ALREADY_EXISTS')) throw e;
    }
    await map('tenant', t.id, t.id);
  }
  const all = await db.query<{ id: string }>('select id from tenants order by id');
  for (const { id: tenantId } of all.rows) {
    // Mailboxes.
    const mbs = await db.query<{ id: string; email: string; display_name: string | null; provider: string }>(
      `select a.id, a.email, a.display_name, a.provider from email_accounts a where a.tenant_id = $1
         and not exists (select 1 from migrate_map m where m.kind = 'mailbox' and m.legacy_id = a.id) order by a.id`,
      [tenantId],
    );
    if (mbs.rows.length) {
      const known = new Map<string, string>();
      for await (const a of pages((token) => pm.metadata.listEmailAccounts({ tenantId, page: { pageSize: 500, pageToken: token } }), (r) => r.emailAccounts)) known.set(a.email.toLowerCase(), a.id);
      for (const a of mbs.rows) {
        let id = known.get(a.email.toLowerCase());
        if (!id) {
          const provider = a.provider === 'google' ? metadataV1.EmailProvider.EMAIL_PROVIDER_GOOGLE : a.provider === 'microsoft' ? metadataV1.EmailProvider.EMAIL_PROVIDER_MICROSOFT : metadataV1.EmailProvider.EMAIL_PROVIDER_SMTP;
          id = (await pm.metadata.createEmailAccount({ tenantId, email: a.email, displayName: (a.display_name ?? '').slice(0, 200), provider })).emailAccount!.id;
        }
        await map('mailbox', a.id, id);
      }
    }
    // Campaigns (matched by name) and their steps (matched by number).
    const camps = await db.query<{ id: string; name: string; new_id: string | null }>(
      `select c.id, c.name, m.new_id from campaigns c left join migrate_map m on m.kind = 'campaign' and m.legacy_id = c.id
        where c.tenant_id = $1 and (m.new_id is null or exists (select 1 from sequence_steps s where s.campaign_id = c.id
              and not exists (select 1 from migrate_map x where x.kind = 'step' and x.legacy_id = s.id))) order by c.id`,
      [tenantId],
    );
    if (camps.rows.length) {
      const known = new Map<string, string>();
      for await (const c of pages((token) => pm.metadata.listCampaigns({ tenantId, page: { pageSize: 500, pageToken: token } }), (r) => r.campaigns)) known.set(c.name, c.id);
      for (const c of camps.rows) {
        const name = c.name.slice(0, 200);
        let id = c.new_id ?? known.get(name);
        if (!id) id = (await pm.metadata.createCampaign({ tenantId, name })).campaign!.id;
        if (!c.new_id) await map('campaign', c.id, id);
        const steps = await db.query<{ id: string; step_number: number; delay_minutes: number }>(
          `select s.id, s.step_number, s.delay_minutes from sequence_steps s where s.campaign_id = $1
             and not exists (select 1 from migrate_map m where m.kind = 'step' and m.legacy_id = s.id) order by s.step_number`,
          [c.id],
        );
        if (!steps.rows.length) continue;
        const byNumber = new Map<number, string>();
        for (const s of (await pm.metadata.listSequenceSteps({ tenantId, campaignId: id })).steps) byNumber.set(s.stepNumber, s.id);
        for (const s of steps.rows) {
          const sid = byNumber.get(s.step_number) ?? (await pm.metadata.createSequenceStep({ tenantId, campaignId: id, stepNumber: s.step_number, delayMinutes: s.delay_minutes, subjectTemplateKey: `legacy/${s.id}/subject`, bodyTemplateKey: `legacy/${s.id}/body` })).step!.id;
          await map('step', s.id, sid);
        }
      }
    }
    // Leads: ImportLeads skips known addresses, then one listing maps address -> id.
    const leads = await db.query<{ id: string; email: string; first_name: string | null; last_name: string | null; company: string | null }>(
      `select l.id, l.email, l.first_name, l.last_name, l.company from leads l where l.tenant_id = $1
         and not exists (select 1 from migrate_map m where m.kind = 'lead' and m.legacy_id = l.id) order by l.id`,
      [tenantId],
    );
    if (leads.rows.length) {
      for (let i = 0; i < leads.rows.length; i += 5000) {
        await pm.metadata.importLeads({
          tenantId,
          leads: leads.rows.slice(i, i + 5000).map((l) => ({ email: l.email, firstName: (l.first_name ?? '').slice(0, 100), lastName: (l.last_name ?? '').slice(0, 100), company: (l.company ?? '').slice(0, 200) })),
        });
      }
      const known = new Map<string, string>();
      for await (const l of pages((token) => pm.metadata.listLeads({ tenantId, page: { pageSize: 500, pageToken: token } }), (r) => r.leads)) known.set(l.email.toLowerCase(), l.id);
      for (const l of leads.rows) {
        const id = known.get(l.email.toLowerCase());
        if (id) await map('lead', l.id, id);
      }
    }
  }
  return done;
}

export async function* pages<R extends { page?: { nextPageToken: string } }, T>(call: (token: string) => Promise<R>, items: (r: R) => T[]): AsyncGenerator<T> {
  let token = '';
  for (;;) {
    const r = await call(token);
    yield* items(r);
    token = r.page?.nextPageToken ?? '';
    if (!token) return;
  }
}
