import { createHash } from 'node:crypto';
import { appendFileSync } from 'node:fs';
import type { Client } from 'pg';
import { analyticsV1, commonV1, contentV1, metadataV1, PenguinMailsError, type PenguinMails } from '@penguinmails/sdk';
import { migrateReferences } from './refs';

const { Direction, MessageType, MessageStatus } = metadataV1;
export const DIRECTIONS: Record<string, metadataV1.Direction> = { inbound: Direction.DIRECTION_INBOUND, outbound: Direction.DIRECTION_OUTBOUND };
export const TYPES: Record<string, metadataV1.MessageType> = { email: MessageType.MESSAGE_TYPE_EMAIL, bounce: MessageType.MESSAGE_TYPE_BOUNCE, auto_reply: MessageType.MESSAGE_TYPE_AUTO_REPLY };
export const STATUSES: Record<string, metadataV1.MessageStatus> = {
  queued: MessageStatus.MESSAGE_STATUS_QUEUED, sent: MessageStatus.MESSAGE_STATUS_SENT, delivered: MessageStatus.MESSAGE_STATUS_DELIVERED,
  opened: MessageStatus.MESSAGE_STATUS_OPENED, clicked: MessageStatus.MESSAGE_STATUS_CLICKED, replied: MessageStatus.MESSAGE_STATUS_REPLIED,
  bounced: MessageStatus.MESSAGE_STATUS_BOUNCED, failed: MessageStatus.MESSAGE_STATUS_FAILED, received: MessageStatus.MESSAGE_STATUS_RECEIVED,
};

/** The migration's own tables, in the legacy database (nothing is written to another tier's database). */
export async function ensureControlTables(db: Client): Promise<void> {
  await db.query(`
    create table if not exists migrate_checkpoint (name text primary key, last_created timestamptz, last_id uuid, rows_done bigint not null default 0, updated timestamptz not null default now());
    create table if not exists migrate_map (kind text not null, legacy_id uuid not null, new_id uuid not null, storage_key text, legacy_updated timestamptz, primary key (kind, legacy_id));
    create table if not exists migrate_rejects (legacy_id uuid primary key, reason text not null, at timestamptz not null default now());`);
}

export interface LegacyEmail {
  id: string; tenant_id: string; email_account_id: string; campaign_id: string | null; lead_id: string | null; sequence_step_id: string | null;
  parent_message_id: string | null; direction: string; message_type: string; from_email: string; to_email: string; subject: string | null;
  status: string; provider_message_id: string | null; client_key: string | null; bounce_type: string | null; processed: Date | null;
  created: Date; updated: Date; content_text: string | null; content_html: string | null; headers: Record<string, unknown>; raw_size_bytes: number;
}

export interface RunOptions {
  batchSize?: number;
  /** Rows per second at most (0 = unthrottled). */
  throttle?: number;
  rejectsFile?: string;
  /** text + html + headers JSON, bytes (the content tier's CONTENT_MAX_BYTES by default). */
  maxBodyBytes?: number;
  concurrency?: number;
  progress?: (line: string) => void;
  /** Test hook, called after a batch is written to the tiers and before its checkpoint. */
  afterBatchWritten?: (batch: number) => void | Promise<void>;
  signal?: AbortSignal;
}

export interface RunResult { migrated: number; rejected: number; batches: number; seconds: number }

const CHECKPOINT = 'emails';
/** Storage key of a legacy email's body: fixed per legacy id, so PutContent is idempotent on it. */
export const storageKeyOf = (e: { tenant_id: string; id: string }) => `${e.tenant_id}/legacy/${e.id}`;

/** Canonical JSON (sorted keys), so the same headers hash alike on both sides. */
export function canonical(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonical).join(',')}]`;
  if (v && typeof v === 'object') return `{${Object.keys(v).sort().map((k) => `${JSON.stringify(k)}:${canonical((v as Record<string, unknown>)[k])}`).join(',')}}`;
  return JSON.stringify(v ?? null);
}
export const contentChecksum = (text: string | null | undefined, html: string | null | undefined, headers: unknown) =>
  createHash('sha256').update(canonical({ text: text ?? null, html: html ?? null, headers: headers ?? {} })).digest('hex');

/** UUID v5-style id from a name: the events of one legacy row always get the same ids. */
export function nameUuid(name: string): string {
  const h = createHash('sha1').update('penguinmails-migrate-legacy:' + name).digest();
  h[6] = (h[6] & 0x0f) | 0x50;
  h[8] = (h[8] & 0x3f) | 0x80;
  const x = h.subarray(0, 16).toString('hex');
  return `${x.slice(0, 8)}-${x.slice(8, 12)}-${x.slice(12, 16)}-${x.slice(16, 20)}-${x.slice(20)}`;
}

const EMAIL_RE = /^[^\s@]+@[^\s@]+$/;

/** Why a row cannot be migrated as it is, or null. */
function rejectReason(e: LegacyEmail, maxBodyBytes: number): string | null {
  for (const [f, v] of [['from_email', e.from_email], ['to_email', e.to_email]] as const) {
    if (v.length > 254) return `${f} longer than 254 characters (${v.length})`;
    if (!EMAIL_RE.test(v)) return `${f} is not an address: ${JSON.stringify(v.slice(0, 80))}`;
  }
  if (!(e.message_type in TYPES)) return `unknown message_type ${JSON.stringify(e.message_type)}`;
  if (!(e.direction in DIRECTIONS)) return `unknown direction ${JSON.stringify(e.direction)}`;
  if (!(e.status in STATUSES)) return `unknown status ${JSON.stringify(e.status)}`;
  if ((e.subject ?? '').length > 500) return `subject longer than 500 characters`;
  if (!e.provider_message_id && !e.client_key && !e.id) return 'no key';
  if ((e.provider_message_id ?? '').length > 998) return 'provider_message_id longer than 998 characters';
  const size = Buffer.byteLength(e.content_text ?? '') + Buffer.byteLength(e.content_html ?? '') + Buffer.byteLength(JSON.stringify(e.headers ?? {}));
  if (size > maxBodyBytes) return `body over the limit (${size} > ${maxBodyBytes} bytes)`;
  return null;
}

/** The status RecordMessage can take for this row; the rest is reached with UpdateMessageStatus. */
function recordStatus(e: LegacyEmail): metadataV1.MessageStatus {
  if (e.direction === 'inbound') return MessageStatus.MESSAGE_STATUS_RECEIVED;
  if (e.status === 'queued' || e.status === 'failed') return STATUSES[e.status];
  return MessageStatus.MESSAGE_STATUS_SENT;
}

async function pool<T>(items: T[], n: number, fn: (x: T) => Promise<void>): Promise<void> {
  let i = 0;
  await Promise.all(Array.from({ length: Math.min(n, items.length) }, async () => {
    while (i < items.length) await fn(items[i++]);
  }));
}

/**
 * `run`: copies `emails` in keyset order (created, id) from the checkpoint on. Per batch:
 * validate (rejects → file + migrate_rejects), PutContent + AddAttachment (idempotent on the
 * storage key / attachment id), BatchRecordMessages in waves (a parent before its replies;
 * client_key = legacy id, provider_message_id kept), UpdateMessageStatus / MarkProcessed for
 * what RecordMessage cannot take, IngestEvents at the original times; then the map rows and the
 * checkpoint in one legacy transaction. A batch redone after a crash writes nothing new.
 */
export async function runMigration(db: Client, pm: PenguinMails, opts: RunOptions = {}): Promise<RunResult> {
  const batchSize = opts.batchSize ?? 200;
  const maxBody = opts.maxBodyBytes ?? 10 * 1024 * 1024;
  const conc = opts.concurrency ?? 8;
  const t0 = Date.now();
  await ensureControlTables(db);
  await migrateReferences(db, pm);
  const refMap = new Map<string, string>();
  for (const r of (await db.query<{ kind: string; legacy_id: string; new_id: string }>(`select kind, legacy_id, new_id from migrate_map where kind <> 'email'`)).rows) refMap.set(`${r.kind}:${r.legacy_id}`, r.new_id);
  const ref = (kind: string, id: string | null) => (id ? (refMap.get(`${kind}:${id}`) ?? '') : '');

  await db.query(`insert into migrate_checkpoint (name) values ($1) on conflict do nothing`, [CHECKPOINT]);
  const total = Number((await db.query('select count(*) from emails')).rows[0].count);
  let done = Number((await db.query('select rows_done from migrate_checkpoint where name = $1', [CHECKPOINT])).rows[0].rows_done);
  const startDone = done;
  let migrated = 0, rejected = 0, batches = 0, lastProgress = 0;

  for (;;) {
    if (opts.signal?.aborted) throw new Error('aborted');
    const batchStart = Date.now();
    const cp = (await db.query('select last_created, last_id from migrate_checkpoint where name = $1', [CHECKPOINT])).rows[0];
    const rows = (await db.query<LegacyEmail>(
      cp.last_created
        ? `select * from emails where (created, id) > ($1, $2) order by created, id limit $3`
        : `select * from emails order by created, id limit $1`,
      cp.last_created ? [cp.last_created, cp.last_id, batchSize] : [batchSize],
    )).rows;
    if (!rows.length) break;
    batches++;

    // Parents: already migrated (map), rejected, or in this batch.
    const parentIds = [...new Set(rows.map((r) => r.parent_message_id).filter((p): p is string => !!p))];
    const parents = new Map<string, string>();
    const rejectedParents = new Set<string>();
    if (parentIds.length) {
      for (const p of (await db.query(`select legacy_id, new_id from migrate_map where kind = 'email' and legacy_id = any($1)`, [parentIds])).rows) parents.set(p.legacy_id, p.new_id);
      for (const p of (await db.query(`select legacy_id from migrate_rejects where legacy_id = any($1)`, [parentIds])).rows) rejectedParents.add(p.legacy_id);
    }
    const rejects: { id: string; tenant: string; reason: string }[] = [];
    const inBatch = new Set<string>();
    const ok: LegacyEmail[] = [];
    for (const e of rows) {
      let reason = rejectReason(e, maxBody);
      if (!reason && e.parent_message_id && !parents.has(e.parent_message_id) && !inBatch.has(e.parent_message_id)) {
        reason = rejectedParents.has(e.parent_message_id) || rows.some((r) => r.id === e.parent_message_id)
          ? `parent ${e.parent_message_id} was rejected`
          : `missing parent ${e.parent_message_id}`;
      }
      if (reason) rejects.push({ id: e.id, tenant: e.tenant_id, reason });
      else { ok.push(e); inBatch.add(e.id); }
    }

    // Content first (a ref never names a key that was not stored).
    const attRows = ok.length ? (await db.query(`select * from email_attachments where email_id = any($1) order by email_id, created, id`, [ok.map((e) => e.id)])).rows : [];
    await pool(ok, conc, async (e) => {
      await pm.content.putContent({ tenantId: e.tenant_id, storageKey: storageKeyOf(e), contentText: e.content_text ?? undefined, contentHtml: e.content_html ?? undefined, headers: e.headers, rawSizeBytes: e.raw_size_bytes });
    });
    await pool(attRows, conc, async (a) => {
      const e = ok.find((x) => x.id === a.email_id)!;
      await pm.content.addAttachment({ tenantId: e.tenant_id, parentStorageKey: storageKeyOf(e), attachmentId: a.id, filename: a.filename ?? '', mimeType: a.mime_type, content: a.content, storageDisposition: a.disposition === 'inline' ? contentV1.StorageDisposition.STORAGE_DISPOSITION_INLINE : contentV1.StorageDisposition.STORAGE_DISPOSITION_ATTACHMENT });
    });

    // Refs, in waves: a row whose parent is in this batch waits for the wave that records it.
    const newId = new Map<string, string>();
    let pending = ok;
    while (pending.length) {
      const wave = pending.filter((e) => !e.parent_message_id || parents.has(e.parent_message_id) || newId.has(e.parent_message_id));
      const waveIds = new Set(wave.map((e) => e.id));
      pending = pending.filter((e) => !waveIds.has(e.id));
      if (!wave.length) { for (const e of pending) rejects.push({ id: e.id, tenant: e.tenant_id, reason: `parent ${e.parent_message_id} was rejected` }); break; }
      const byTenant = new Map<string, LegacyEmail[]>();
      for (const e of wave) byTenant.set(e.tenant_id, [...(byTenant.get(e.tenant_id) ?? []), e]);
      for (const [tenantId, list] of byTenant) {
        const input = (e: LegacyEmail): metadataV1.MessageInput => ({
          emailAccountId: ref('mailbox', e.email_account_id), campaignId: ref('campaign', e.campaign_id), leadId: ref('lead', e.lead_id),
          sequenceStepId: ref('step', e.sequence_step_id),
          parentMessageId: e.parent_message_id ? (parents.get(e.parent_message_id) ?? newId.get(e.parent_message_id) ?? '') : '',
          direction: DIRECTIONS[e.direction], messageType: TYPES[e.message_type], fromEmail: e.from_email, toEmail: e.to_email, subject: e.subject ?? '',
          status: recordStatus(e), contentStorageKey: storageKeyOf(e), providerMessageId: e.provider_message_id ?? '', clientKey: e.id,
          bounceType: e.message_type === 'bounce' ? (e.bounce_type === 'soft' ? commonV1.BounceType.BOUNCE_TYPE_SOFT : commonV1.BounceType.BOUNCE_TYPE_HARD) : commonV1.BounceType.BOUNCE_TYPE_UNSPECIFIED,
          inReplyTo: '', references: [],
        });
        const accept = (e: LegacyEmail, m: metadataV1.MessageRef) => {
          // A known provider_message_id of another legacy row returns that row's ref: a duplicate, not this row.
          if (m.clientKey !== e.id) rejects.push({ id: e.id, tenant: e.tenant_id, reason: `provider_message_id already used by legacy email ${m.clientKey || m.id}` });
          else newId.set(e.id, m.id);
        };
        for (let i = 0; i < list.length; i += 1000) {
          const chunk = list.slice(i, i + 1000);
          try {
            const r = await pm.metadata.batchRecordMessages({ tenantId, messages: chunk.map(input) });
            r.results.forEach((x, k) => accept(chunk[k], x.message!));
          } catch (err) {
            if (!(err instanceof PenguinMailsError) || ['UNAVAILABLE', 'DEADLINE_EXCEEDED', 'UNAUTHENTICATED', 'PERMISSION_DENIED'].includes(err.codeName)) throw err;
            // All or nothing: find the row(s) the tier refuses, one by one.
            for (const e of chunk) {
              try { accept(e, (await pm.metadata.recordMessage({ tenantId, message: input(e) })).message!); }
              catch (err2) {
                if (!(err2 instanceof PenguinMailsError) || ['UNAVAILABLE', 'DEADLINE_EXCEEDED'].includes(err2.codeName)) throw err2;
                rejects.push({ id: e.id, tenant: e.tenant_id, reason: `metadata refused: ${err2.describe()}` });
              }
            }
          }
        }
      }
      // Statuses RecordMessage cannot take, before the replies of the next wave come in.
      await pool(wave.filter((e) => newId.has(e.id)), conc, async (e) => {
        const id = newId.get(e.id)!;
        if (STATUSES[e.status] !== recordStatus(e)) {
          try { await pm.metadata.updateMessageStatus({ tenantId: e.tenant_id, messageId: id, status: STATUSES[e.status] }); }
          catch (err) { if (!(err instanceof PenguinMailsError && err.codeName === 'FAILED_PRECONDITION')) throw err; }
        }
        if (e.processed) await pm.metadata.markProcessed({ tenantId: e.tenant_id, messageId: id, processed: e.processed });
      });
    }

    // History to analytics at the original times, keyed so a redone batch counts once.
    const events = new Map<string, analyticsV1.EmailEvent[]>();
    for (const e of ok) {
      const id = newId.get(e.id);
      if (!id) continue;
      const base = { campaignId: ref('campaign', e.campaign_id), emailAccountId: ref('mailbox', e.email_account_id), sequenceStepId: ref('step', e.sequence_step_id), leadId: ref('lead', e.lead_id) };
      const parentRef = e.parent_message_id ? (parents.get(e.parent_message_id) ?? newId.get(e.parent_message_id) ?? '') : '';
      const ev = (type: analyticsV1.EmailEventType, at: Date, messageRefId: string, extra: Partial<analyticsV1.EmailEvent> = {}) =>
        ({ eventId: nameUuid(`${e.id}:${type}`), eventType: type, occurredAt: at, messageRefId, ...base, ...extra }) as analyticsV1.EmailEvent;
      const list: analyticsV1.EmailEvent[] = [];
      const T = analyticsV1.EmailEventType;
      if (e.direction === 'outbound' && !['queued', 'failed'].includes(e.status)) {
        list.push(ev(T.EMAIL_EVENT_TYPE_SENT, e.created, id));
        if (['delivered', 'opened', 'clicked'].includes(e.status)) list.push(ev(T.EMAIL_EVENT_TYPE_DELIVERED, e.updated, id));
        if (['opened', 'clicked'].includes(e.status)) list.push(ev(T.EMAIL_EVENT_TYPE_OPENED, e.updated, id));
        if (e.status === 'clicked') list.push(ev(T.EMAIL_EVENT_TYPE_CLICKED, e.updated, id));
      } else if (e.direction === 'inbound') {
        if (e.message_type === 'email' && parentRef) list.push(ev(T.EMAIL_EVENT_TYPE_REPLIED, e.created, parentRef));
        if (e.message_type === 'bounce') list.push(ev(T.EMAIL_EVENT_TYPE_BOUNCED, e.created, parentRef || id, { bounceType: e.bounce_type === 'soft' ? commonV1.BounceType.BOUNCE_TYPE_SOFT : commonV1.BounceType.BOUNCE_TYPE_HARD }));
        if (e.message_type === 'auto_reply') list.push(ev(T.EMAIL_EVENT_TYPE_AUTO_REPLIED, e.created, parentRef || id));
      }
      if (list.length) events.set(e.tenant_id, [...(events.get(e.tenant_id) ?? []), ...list]);
    }
    for (const [tenantId, list] of events) for (let i = 0; i < list.length; i += 500) await pm.analytics.ingestEvents({ tenantId, events: list.slice(i, i + 500) });

    await opts.afterBatchWritten?.(batches);

    // Map, rejects and checkpoint: one legacy transaction.
    const last = rows[rows.length - 1];
    const fresh: typeof rejects = [];
    await db.query('begin');
    try {
      for (const e of ok) if (newId.has(e.id)) await db.query(`insert into migrate_map (kind, legacy_id, new_id, storage_key, legacy_updated) values ('email',$1,$2,$3,$4) on conflict do nothing`, [e.id, newId.get(e.id), storageKeyOf(e), e.updated]);
      for (const r of rejects) {
        const ins = await db.query('insert into migrate_rejects (legacy_id, reason) values ($1,$2) on conflict do nothing', [r.id, r.reason]);
        if (ins.rowCount) fresh.push(r);
      }
      await db.query('update migrate_checkpoint set last_created = $2, last_id = $3, rows_done = rows_done + $4, updated = now() where name = $1', [CHECKPOINT, last.created, last.id, rows.length]);
      await db.query('commit');
    } catch (err) { await db.query('rollback'); throw err; }
    // After the commit: a crash before this line leaves the reason in migrate_rejects (`rejects` prints them all).
    if (opts.rejectsFile) for (const r of fresh) appendFileSync(opts.rejectsFile, JSON.stringify({ legacy_id: r.id, tenant_id: r.tenant, reason: r.reason }) + '\n');
    migrated += newId.size;
    rejected += rejects.length;
    done += rows.length;

    const elapsed = (Date.now() - t0) / 1000;
    const rate = (done - startDone) / Math.max(elapsed, 0.001);
    if (opts.progress && (Date.now() - lastProgress > 1000 || done >= total)) {
      lastProgress = Date.now();
      const eta = rate > 0 ? Math.max(0, (total - done) / rate) : 0;
      opts.progress(`${done}/${total} rows (${((100 * done) / Math.max(total, 1)).toFixed(1)}%), ${migrated} migrated, ${rejected} rejected, ${rate.toFixed(0)} rows/s, ETA ${eta.toFixed(0)} s`);
    }
    if (opts.throttle && opts.throttle > 0) {
      const wantMs = (rows.length / opts.throttle) * 1000;
      const spent = Date.now() - batchStart;
      if (wantMs > spent) await new Promise((r) => setTimeout(r, wantMs - spent));
    }
  }
  return { migrated, rejected, batches, seconds: (Date.now() - t0) / 1000 };
}
