import type { Client } from 'pg';
import { commonV1, contentV1, PenguinMailsError, type PenguinMails } from '@penguinmails/sdk';
import { catchUp, contentChecksum, DIRECTIONS, ensureControlTables, STATUSES, TYPES, type RunOptions } from './migrate';
import { pages } from './refs';
import { verifyMigration, type VerifyResult } from './verify';

/**
 * The phases the application reads from `migrate_state` (one row, legacy database):
 * - `legacy`: `emails` is the source of truth (before any run, and after a rollback);
 * - `migrating`: `run` has started; the application still reads and writes `emails`;
 * - `switched` (`switched_at`): the tiers are authoritative; the application reads and writes
 *   through the SDK; `emails` is kept as it was at the switch;
 * - `archived` (`archived_as`): `emails` and `email_attachments` moved to schema
 *   `legacy_archive` under dated names; `restore` brings them back (phase `switched`).
 */
export type Phase = 'legacy' | 'migrating' | 'switched' | 'archived';
export interface State { phase: Phase; switched_at: Date | null; archived_as: string | null }

export async function readState(db: Client): Promise<State> {
  await ensureControlTables(db);
  return (await db.query<State>('select phase, switched_at, archived_as from migrate_state')).rows[0];
}

export class PhaseError extends Error {}

/**
 * `switch`: a last catch-up, then verify; only when it agrees does the state become `switched`
 * (the application then reads the tiers). Otherwise nothing changes and the differences come back.
 */
export async function switchOver(db: Client, pm: PenguinMails, opts: RunOptions = {}): Promise<{ switched: boolean; verify: VerifyResult }> {
  const s = await readState(db);
  if (s.phase === 'switched' || s.phase === 'archived') throw new PhaseError(`already ${s.phase}`);
  await catchUp(db, pm, opts);
  const verify = await verifyMigration(db, pm);
  if (!verify.ok) return { switched: false, verify };
  await db.query(`update migrate_state set phase = 'switched', switched_at = now(), updated = now()`);
  return { switched: true, verify };
}

const invert = <T extends string | number>(r: Record<string, T>) => new Map(Object.entries(r).map(([k, v]) => [v, k]));
const STATUS_NAMES = invert(STATUSES);
const DIRECTION_NAMES = invert(DIRECTIONS);
const TYPE_NAMES = invert(TYPES);

/**
 * `rollback`: back to reading `emails`. What landed only in the tiers after the switch is copied
 * back first: refs created since (with their mailbox, campaign, step and lead when those are new
 * too, their body and attachments from content), and the status / processed of migrated refs
 * changed since. They are mapped (`migrate_map`, legacy id = the ref's id, `legacy_updated` =
 * the row's) so a later run skips them. Reads every ref of every tenant (ListMessages has no
 * "updated since" filter): fine for thousands, slow for millions (see README).
 */
export async function rollback(db: Client, pm: PenguinMails): Promise<{ copied: number; updated: number }> {
  const s = await readState(db);
  if (s.phase === 'archived') throw new PhaseError('emails is archived: run `restore` first');
  if (s.phase !== 'switched') {
    await db.query(`update migrate_state set phase = 'legacy', updated = now()`);
    return { copied: 0, updated: 0 };
  }
  const since = s.switched_at!;
  const rev = new Map<string, string>();
  for (const r of (await db.query(`select kind, legacy_id, new_id from migrate_map`)).rows) rev.set(`${r.kind}:${r.new_id}`, r.legacy_id);
  const map = async (kind: string, id: string, extra: { key?: string; updated?: string; sha?: string } = {}) => {
    await db.query(`insert into migrate_map (kind, legacy_id, new_id, storage_key, legacy_updated, body_sha) values ($1,$2,$2,$3,$4,$5) on conflict do nothing`, [kind, id, extra.key ?? null, extra.updated ?? null, extra.sha ?? null]);
    rev.set(`${kind}:${id}`, id);
  };
  // A reference row created in the tiers after the switch: copied with the tier's id.
  const legacyRef = async (kind: 'mailbox' | 'campaign' | 'lead' | 'step', tenantId: string, id: string): Promise<string | null> => {
    if (!id) return null;
    const known = rev.get(`${kind}:${id}`);
    if (known) return known;
    if (kind === 'mailbox') {
      const a = (await pm.metadata.getEmailAccount({ tenantId, emailAccountId: id })).emailAccount!;
      await db.query(`insert into email_accounts (id, tenant_id, email, display_name) values ($1,$2,$3,$4) on conflict do nothing`, [id, tenantId, a.email, a.displayName || null]);
    } else if (kind === 'campaign') {
      const c = (await pm.metadata.getCampaign({ tenantId, campaignId: id })).campaign!;
      await db.query(`insert into campaigns (id, tenant_id, name) values ($1,$2,$3) on conflict do nothing`, [id, tenantId, c.name]);
    } else if (kind === 'lead') {
      const l = (await pm.metadata.getLead({ tenantId, leadId: id })).lead!;
      await db.query(`insert into leads (id, tenant_id, email, first_name, last_name, company) values ($1,$2,$3,$4,$5,$6) on conflict do nothing`, [id, tenantId, l.email, l.firstName || null, l.lastName || null, l.company || null]);
    } else {
      const st = (await pm.metadata.getSequenceStep({ tenantId, sequenceStepId: id })).step!;
      await db.query(`insert into sequence_steps (id, campaign_id, step_number, delay_minutes) values ($1,$2,$3,$4) on conflict do nothing`, [id, await legacyRef('campaign', tenantId, st.campaignId), st.stepNumber, st.delayMinutes]);
    }
    await map(kind, id);
    return id;
  };

  let copied = 0, updated = 0;
  const tenants = (await db.query<{ id: string }>('select id from tenants order by id')).rows;
  for (const { id: tenantId } of tenants) {
    const changed = [];
    try {
      // Only the refs changed since the switch (ListMessages `updated`, filtered in the metadata
      // tier; a new ref's `updated` starts at its `created`, so new refs are among them). Before
      // that filter existed every ref of every tenant crossed the wire.
      for await (const m of pages((token) => pm.metadata.listMessages({ tenantId, updated: { start: since }, page: { pageSize: 500, pageToken: token } }), (r) => r.messages)) changed.push(m);
    } catch (e) { if (!(e instanceof PenguinMailsError && e.codeName === 'NOT_FOUND')) throw e; }
    changed.sort((a, b) => a.created!.getTime() - b.created!.getTime()); // parents before their replies
    for (const m of changed) {
      const legacyId = rev.get(`email:${m.id}`);
      if (legacyId) {
        const r = await db.query(`update emails set status = $2, processed = $3 where id = $1 and (status, processed) is distinct from ($2, $3)`, [legacyId, STATUS_NAMES.get(m.status), m.processed ?? null]);
        updated += r.rowCount ?? 0;
        continue;
      }
      let body: contentV1.GetContentResponse | undefined;
      if (m.contentStorageKey) body = await pm.content.getContent({ tenantId, storageKey: m.contentStorageKey });
      const parent = m.parentMessageId ? (rev.get(`email:${m.parentMessageId}`) ?? null) : null;
      const headers = body?.headers ?? {};
      await db.query('begin');
      try {
        const row = (await db.query(
          `insert into emails (id, tenant_id, email_account_id, campaign_id, lead_id, sequence_step_id, parent_message_id, direction, message_type, from_email, to_email,
                               subject, status, provider_message_id, client_key, bounce_type, processed, created, content_text, content_html, headers, raw_size_bytes)
           values ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13,$14,$15,$16,$17,$18,$19,$20,$21,$22) on conflict (id) do update set id = excluded.id returning updated::text`,
          [m.id, tenantId, await legacyRef('mailbox', tenantId, m.emailAccountId), await legacyRef('campaign', tenantId, m.campaignId), await legacyRef('lead', tenantId, m.leadId),
            await legacyRef('step', tenantId, m.sequenceStepId), parent, DIRECTION_NAMES.get(m.direction), TYPE_NAMES.get(m.messageType), m.fromEmail, m.toEmail,
            m.subject || null, STATUS_NAMES.get(m.status), m.providerMessageId || null, m.clientKey || null, m.messageType === TYPES.bounce ? (m.bounceType === commonV1.BounceType.BOUNCE_TYPE_SOFT ? 'soft' : 'hard') : null,
            m.processed ?? null, m.created, body?.contentText ?? null, body?.contentHtml ?? null, JSON.stringify(headers), Number(body?.content?.rawSizeBytes ?? 0)],
        )).rows[0];
        if (m.contentStorageKey) {
          for await (const a of pages((token) => pm.content.listAttachments({ tenantId, parentStorageKey: m.contentStorageKey, page: { pageSize: 100, pageToken: token } }), (r) => r.attachments)) {
            const got = await pm.content.getAttachment({ tenantId, attachmentId: a.id });
            await db.query(`insert into email_attachments (id, email_id, filename, mime_type, disposition, content, created) values ($1,$2,$3,$4,$5,$6,$7) on conflict do nothing`,
              [a.id, m.id, a.filename || null, a.mimeType, a.storageDisposition === contentV1.StorageDisposition.STORAGE_DISPOSITION_INLINE ? 'inline' : 'attachment', got.content, a.created ?? new Date()]);
          }
        }
        await map('email', m.id, { key: m.contentStorageKey || undefined, updated: row.updated, sha: contentChecksum(body?.contentText, body?.contentHtml, headers) });
        await db.query('commit');
      } catch (err) { await db.query('rollback'); throw err; }
      copied++;
    }
  }
  // The copied status changes are the legacy rows' own now: a later catch-up must not send them back.
  await db.query(`update migrate_map m set legacy_updated = e.updated from emails e where m.kind = 'email' and m.legacy_id = e.id and e.updated > m.legacy_updated`);
  await db.query(`update migrate_state set phase = 'legacy', switched_at = null, updated = now()`);
  return { copied, updated };
}

/** `archive`: only when verify agrees, moves `emails` and `email_attachments` to schema legacy_archive, named with the time. */
export async function archive(db: Client, pm: PenguinMails, now = new Date()): Promise<{ archived: boolean; as?: string; verify: VerifyResult }> {
  const s = await readState(db);
  if (s.phase === 'archived') throw new PhaseError(`already archived as legacy_archive.emails_${s.archived_as}`);
  const verify = await verifyMigration(db, pm);
  if (!verify.ok) return { archived: false, verify };
  const stamp = now.toISOString().replace(/[-:]/g, '').replace('T', '_').slice(0, 15);
  await db.query('begin');
  try {
    await db.query('create schema if not exists legacy_archive');
    for (const t of ['emails', 'email_attachments']) {
      await db.query(`alter table public.${t} set schema legacy_archive`);
      await db.query(`alter table legacy_archive.${t} rename to ${t}_${stamp}`);
    }
    await db.query(`update migrate_state set phase = 'archived', archived_as = $1, updated = now()`, [stamp]);
    await db.query('commit');
  } catch (err) { await db.query('rollback'); throw err; }
  return { archived: true, as: stamp, verify };
}

/** `restore`: the archived tables back where they were (phase `switched` again). */
export async function restore(db: Client): Promise<{ restored: string }> {
  const s = await readState(db);
  if (s.phase !== 'archived' || !s.archived_as) throw new PhaseError(`nothing archived (phase ${s.phase})`);
  const stamp = s.archived_as;
  await db.query('begin');
  try {
    for (const t of ['emails', 'email_attachments']) {
      await db.query(`alter table legacy_archive.${t}_${stamp} set schema public`);
      await db.query(`alter table public.${t}_${stamp} rename to ${t}`);
    }
    await db.query(`update migrate_state set phase = 'switched', archived_as = null, updated = now()`);
    await db.query('commit');
  } catch (err) { await db.query('rollback'); throw err; }
  return { restored: stamp };
}
