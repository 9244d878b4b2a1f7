import type { Client } from 'pg';
import { PenguinMailsError, type PenguinMails } from '@penguinmails/sdk';
import { pages } from './refs';
import { contentChecksum, DIRECTIONS, ensureControlTables, type LegacyEmail, STATUSES, storageKeyOf, TYPES, WAITING } from './migrate';

export interface VerifyResult { ok: boolean; differences: string[]; notes: string[]; checked: number; rejected: number; perTenant: { tenant: string; legacy: number; refs: number; rejected: number }[] }

/**
 * `verify`: per tenant, legacy rows (+ rows deleted after their migration: migrate_deleted, a
 * note each) = refs in the metadata tier + rows in migrate_rejects; then
 * every legacy row: its ref (GetMessage of the mapped id) field by field against the row, and its
 * body (GetContent of the storage key) by checksum of text + html + headers (canonical JSON),
 * and its attachments by count and SHA-256. Every difference is one line.
 */
export async function verifyMigration(db: Client, pm: PenguinMails, opts: { batchSize?: number; print?: (line: string) => void; perRowContent?: boolean } = {}): Promise<VerifyResult> {
  await ensureControlTables(db);
  const diffs: string[] = [];
  const notes: string[] = [];
  const diff = (s: string) => { diffs.push(s); opts.print?.(s); };
  const refMap = new Map<string, string>();
  for (const r of (await db.query(`select kind, legacy_id, new_id from migrate_map where kind <> 'email'`)).rows) refMap.set(`${r.kind}:${r.legacy_id}`, r.new_id);
  const ref = (kind: string, id: string | null) => (id ? (refMap.get(`${kind}:${id}`) ?? `<unmapped ${kind} ${id}>`) : '');

  const perTenant = [];
  const counts = await db.query<{ tenant_id: string; legacy: string; rejected: string }>(
    `select e.tenant_id, count(*) as legacy, count(r.legacy_id) as rejected from emails e left join migrate_rejects r on r.legacy_id = e.id group by 1 order by 1`,
  );
  let rejectedTotal = 0;
  // Migrated rows the application deleted since (the catch-up records them): their refs stay.
  const deleted = new Map<string, string[]>();
  for (const d of (await db.query(`select d.tenant_id, d.legacy_id, d.new_id from migrate_deleted d where not exists (select 1 from emails e where e.id = d.legacy_id) order by d.at, d.legacy_id`)).rows) {
    deleted.set(d.tenant_id, [...(deleted.get(d.tenant_id) ?? []), `${d.legacy_id} (ref ${d.new_id})`]);
  }
  for (const [tenant, list] of deleted) notes.push(`tenant ${tenant}: ${list.length} legacy rows deleted after their migration, refs kept (migrate_deleted): ${list.slice(0, 5).join(', ')}${list.length > 5 ? ', …' : ''}`);
  const tenants = new Set(counts.rows.map((c) => c.tenant_id));
  for (const t of deleted.keys()) if (!tenants.has(t)) counts.rows.push({ tenant_id: t, legacy: '0', rejected: '0' });
  for (const c of counts.rows) {
    let refs = 0;
    try {
      for await (const m of pages((token) => pm.metadata.listMessages({ tenantId: c.tenant_id, page: { pageSize: 500, pageToken: token } }), (r) => r.messages)) { void m; refs++; }
    } catch (e) { if (!(e instanceof PenguinMailsError && e.codeName === 'NOT_FOUND')) throw e; }
    const row = { tenant: c.tenant_id, legacy: Number(c.legacy), refs, rejected: Number(c.rejected) };
    rejectedTotal += row.rejected;
    perTenant.push(row);
    const gone = deleted.get(c.tenant_id)?.length ?? 0;
    if (row.legacy + gone !== row.refs + row.rejected) diff(`tenant ${c.tenant_id}: ${row.legacy} legacy emails${gone ? ` + ${gone} deleted after migration` : ''}, ${row.refs} refs + ${row.rejected} rejected`);
  }

  let checked = 0;
  let after: [string, string] | null = null;
  const size = opts.batchSize ?? 200;
  for (;;) {
    type Row = LegacyEmail & { created_exact: string; new_id: string | null; storage_key: string | null; reason: string | null };
    const rows: Row[] = (await db.query<Row>(
      // The page first, through the (created, id) index; then its joins (a few ms a page).
      `with page as (select * from emails where ($1::timestamptz is null or (created, id) > ($1::timestamptz, $2::uuid)) order by created, id limit $3)
       select e.*, e.created::text as created_exact, m.new_id, m.storage_key, r.reason from page e left join migrate_map m on m.kind = 'email' and m.legacy_id = e.id
         left join migrate_rejects r on r.legacy_id = e.id
        order by e.created, e.id`,
      [after?.[0] ?? null, after?.[1] ?? null, size],
    )).rows;
    if (!rows.length) break;
    // The exact text of `created`: a JS Date keeps milliseconds, and a keyset on a truncated
    // value re-reads the rows of the same millisecond (in the bench, verify did not finish).
    after = [rows[rows.length - 1].created_exact, rows[rows.length - 1].id];
    const ids = rows.map((r) => r.id);
    const atts = new Map<string, { id: string; sha: string }[]>();
    for (const a of (await db.query(`select id, email_id, encode(sha256(content), 'hex') as sha from email_attachments where email_id = any($1)`, [ids])).rows) atts.set(a.email_id, [...(atts.get(a.email_id) ?? []), { id: a.id, sha: a.sha }]);
    // Parents' refs in one query: the per-row checks below run concurrently on the SDK, not on `db`.
    const parentOf = new Map<string, string>();
    const parentIds = rows.map((r) => r.parent_message_id).filter((p): p is string => !!p);
    if (parentIds.length) for (const p of (await db.query(`select legacy_id, new_id from migrate_map where kind = 'email' and legacy_id = any($1)`, [parentIds])).rows) parentOf.set(p.legacy_id, p.new_id);
    // Bodies: BatchGetContent, per tenant, 100 keys a call (the tier's limit), instead of one
    // GetContent per row; GetContent only for a body the batch answer left out (parts_omitted).
    // `perRowContent` keeps the one-call-per-row path (the bench compares the two).
    const bodies = new Map<string, { found: boolean; text?: string; html?: string; headers?: unknown }>();
    if (!opts.perRowContent) {
      const byTenant = new Map<string, string[]>();
      for (const e of rows) if (e.new_id && !e.reason) byTenant.set(e.tenant_id, [...(byTenant.get(e.tenant_id) ?? []), e.storage_key ?? storageKeyOf(e)]);
      const calls: Promise<void>[] = [];
      for (const [tenantId, keys] of byTenant) for (let i = 0; i < keys.length; i += 100) {
        calls.push(pm.content.batchGetContent({ tenantId, storageKeys: keys.slice(i, i + 100), parts: [] }).then((r) => {
          for (const x of r.results) if (!x.partsOmitted) bodies.set(`${tenantId}:${x.storageKey}`, { found: x.found, text: x.contentText, html: x.contentHtml, headers: x.headers });
        }));
      }
      await Promise.all(calls);
    }
    await Promise.all(rows.map(async (e) => {
      if (e.reason?.startsWith(WAITING)) return diff(`${e.id}: not migrated yet: ${e.reason}`);
      if (e.reason) return;
      if (!e.new_id) return diff(`${e.id}: not migrated and not rejected`);
      checked++;
      const p = `${e.id} (ref ${e.new_id})`;
      let m;
      try { m = (await pm.metadata.getMessage({ tenantId: e.tenant_id, messageId: e.new_id })).message!; }
      catch (err) { return diff(`${p}: ref missing (${err instanceof PenguinMailsError ? err.codeName : String(err)})`); }
      const parent = e.parent_message_id ? (parentOf.get(e.parent_message_id) ?? '<unmapped>') : '';
      const want: Record<string, unknown> = {
        emailAccountId: ref('mailbox', e.email_account_id), campaignId: ref('campaign', e.campaign_id), leadId: ref('lead', e.lead_id),
        sequenceStepId: ref('step', e.sequence_step_id), parentMessageId: parent, direction: DIRECTIONS[e.direction], messageType: TYPES[e.message_type],
        fromEmail: e.from_email.toLowerCase(), toEmail: e.to_email.toLowerCase(), subject: e.subject ?? '', status: STATUSES[e.status],
        // A migrated ref's client_key is the legacy id; a row copied back by rollback holds the
        // ref's own client_key in emails.client_key.
        providerMessageId: e.provider_message_id ?? '', clientKey: m.clientKey === e.id ? e.id : (e.client_key ?? ''), contentStorageKey: e.storage_key ?? storageKeyOf(e),
        processed: e.processed ? e.processed.toISOString() : null, created: e.created.toISOString(),
      };
      const got: Record<string, unknown> = { ...m, fromEmail: m.fromEmail.toLowerCase(), toEmail: m.toEmail.toLowerCase(), processed: m.processed ? m.processed.toISOString() : null, created: m.created ? m.created.toISOString() : null };
      for (const k of Object.keys(want)) if (want[k] !== got[k]) diff(`${p}: ${k} legacy ${JSON.stringify(want[k])} tier ${JSON.stringify(got[k])}`);
      const batched = bodies.get(`${e.tenant_id}:${e.storage_key ?? storageKeyOf(e)}`);
      if (batched && !batched.found) diff(`${p}: content missing (NOT_FOUND)`);
      else try {
        const c = batched ? { contentText: batched.text, contentHtml: batched.html, headers: batched.headers } : await pm.content.getContent({ tenantId: e.tenant_id, storageKey: e.storage_key ?? storageKeyOf(e) });
        const a = contentChecksum(e.content_text, e.content_html, e.headers);
        const b = contentChecksum(c.contentText, c.contentHtml, c.headers ?? {});
        if (a !== b) diff(`${p}: content checksum legacy ${a.slice(0, 16)} tier ${b.slice(0, 16)}`);
      } catch (err) { diff(`${p}: content missing (${err instanceof PenguinMailsError ? err.codeName : String(err)})`); }
      const legacyAtts = (atts.get(e.id) ?? []).map((x) => x.sha).sort();
      if (legacyAtts.length) {
        const tierAtts: string[] = [];
        for await (const x of pages((token) => pm.content.listAttachments({ tenantId: e.tenant_id, parentStorageKey: e.storage_key ?? storageKeyOf(e), page: { pageSize: 100, pageToken: token } }), (r) => r.attachments)) tierAtts.push(x.sha256);
        if (legacyAtts.join() !== tierAtts.sort().join()) diff(`${p}: attachments legacy ${legacyAtts.length} tier ${tierAtts.length} (or their SHA-256 differ)`);
      }
    }));
  }
  return { ok: diffs.length === 0, differences: diffs, notes, checked, rejected: rejectedTotal, perTenant };
}
