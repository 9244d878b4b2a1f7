import { createHash } from 'node:crypto';
import { appendFileSync } from 'node:fs';
import { Client } from 'pg';
import { analyticsV1, commonV1, contentV1, metadataV1, PenguinMailsError, type PenguinMails } from '@penguinmails/sdk';
import { PATIENT_POLICY, patient } from './patient';
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
    alter table migrate_map add column if not exists body_sha text;
    alter table migrate_checkpoint add column if not exists started timestamptz not null default now();
    create table if not exists migrate_rejects (legacy_id uuid primary key, reason text not null, at timestamptz not null default now());
    create table if not exists migrate_deleted (legacy_id uuid primary key, tenant_id uuid not null, new_id uuid not null, storage_key text, at timestamptz not null default now());
    create table if not exists migrate_state (
      id boolean primary key default true check (id),
      phase text not null default 'legacy' check (phase in ('legacy', 'migrating', 'switched', 'archived')),
      switched_at timestamptz, archived_as text, updated timestamptz not null default now());
    insert into migrate_state (id) values (true) on conflict do nothing;`);
}

export interface LegacyEmail {
  id: string; tenant_id: string; email_account_id: string; campaign_id: string | null; lead_id: string | null; sequence_step_id: string | null;
  parent_message_id: string | null; direction: string; message_type: string; from_email: string; to_email: string; subject: string | null;
  status: string; provider_message_id: string | null; client_key: string | null; bounce_type: string | null; processed: Date | null;
  created: Date; updated: Date;
  /** created/updated as PostgreSQL's text (microseconds; a Date keeps milliseconds): the keyset and catch-up compare these. */
  created_exact: string; updated_exact: string;
  content_text: string | null; content_html: string | null; headers: Record<string, unknown>; raw_size_bytes: number;
}

export interface RunOptions {
  batchSize?: number;
  /** Rows per second at most (0 = unthrottled; with `adaptive`, the ceiling). */
  throttle?: number;
  /**
   * Adaptive throttle: the extra latency the tool may add to a probe of the legacy table (a
   * primary-key read) over its baseline, e.g. 0.2 = 20% (0 = off). See Throttle.
   */
  adaptive?: number;
  /** A throttle shared by the keyset pass and its catch-up (internal). */
  throttleState?: Throttle;
  /** Batches in flight at most (default 3): see pipeline(). */
  inFlight?: number;
  rejectsFile?: string;
  /** text + html + headers JSON, bytes (the content tier's CONTENT_MAX_BYTES by default). */
  maxBodyBytes?: number;
  /** Calls in flight per stage (content puts, ref imports, analytics ingests); default 16. */
  concurrency?: number;
  progress?: (line: string) => void;
  /** Draw a bar (\r-redrawn) instead of plain lines: stderr is a terminal. */
  tty?: boolean;
  /** When given, wall ms per stage are added to it (content, metadata, analytics, legacy read/commit): what limits the rate. */
  timings?: Record<string, number>;
  /** Attempts per write to a tier on a failure that is not the row's (UNAVAILABLE, DEADLINE_EXCEEDED, ...): see patient(). Default 8. */
  attempts?: number;
  /** Deadline of each attempt, ms (default 120000). */
  callDeadlineMs?: number;
  /** Run the catch-up pass after the keyset pass (default true). */
  catchUp?: boolean;
  /** Go on although the legacy rows go back further than the analytics tier's raw retention (see checkAnalyticsRetention). */
  allowRecount?: boolean;
  /** Test hook (keyset pass only), called after a batch is written to the tiers (content, refs, events) and before its commit; other batches may be in flight. */
  afterBatchWritten?: (batch: number) => void | Promise<void>;
  signal?: AbortSignal;
}

export interface RunResult { migrated: number; rejected: number; batches: number; seconds: number }

const CHECKPOINT = 'emails';
const EXACT = `*, created::text as created_exact, updated::text as updated_exact`;
/** The reason prefix of a row whose parent is not migrated yet: not a final reject (the catch-up retries it). */
export const WAITING = 'waiting for parent';
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
  if ((e.direction === 'inbound') !== (e.status === 'received')) return `status ${e.status} is not one of a${e.direction === 'inbound' ? 'n inbound message (received)' : 'n outbound message (any but received)'}`;
  if ((e.subject ?? '').length > 500) return `subject longer than 500 characters`;
  if (e.processed && e.processed < e.created) return `processed (${e.processed.toISOString()}) before created (${e.created.toISOString()})`;
  if (!e.provider_message_id && !e.client_key && !e.id) return 'no key';
  if ((e.provider_message_id ?? '').length > 998) return 'provider_message_id longer than 998 characters';
  const size = Buffer.byteLength(e.content_text ?? '') + Buffer.byteLength(e.content_html ?? '') + Buffer.byteLength(JSON.stringify(e.headers ?? {}));
  if (size > maxBodyBytes) return `body over the limit (${size} > ${maxBodyBytes} bytes)`;
  return null;
}

/**
 * Runs `fn` over `items` with at most `n` calls in flight. Written here (10 lines) rather than
 * taken from p-limit: that package is ESM-only and this one runs as CommonJS through tsx.
 * Every call of one service shares its HTTP/2 channel, so `n` calls are `n` multiplexed streams.
 */
export async function pool<T>(items: T[], n: number, fn: (x: T) => Promise<void>): Promise<void> {
  let i = 0;
  await Promise.all(Array.from({ length: Math.min(n, items.length) }, async () => {
    while (i < items.length) await fn(items[i++]);
  }));
}

/** A changed body gets a key of its own (a version named by its checksum); the first keeps storageKeyOf. */
export const versionedKeyOf = (e: { tenant_id: string; id: string }, sha: string) => `${storageKeyOf(e)}/${sha.slice(0, 16)}`;

interface Reject { id: string; tenant: string; reason: string }
interface Ctx {
  db: Client; pm: PenguinMails; maxBody: number; conc: number;
  /** Wall time per stage, ms (RunOptions.timings). */
  time: <T>(stage: string, p: Promise<T>) => Promise<T>;
  ref: (kind: string, id: string | null) => string;
}
/** A promise with its resolve/reject (the order gates between batches in flight). */
interface Deferred { promise: Promise<void>; resolve: () => void; reject: (err: unknown) => void }
function deferred(): Deferred {
  let resolve!: () => void, reject!: (err: unknown) => void;
  const promise = new Promise<void>((res, rej) => { resolve = res; reject = rej; });
  promise.catch(() => undefined);
  return { promise, resolve, reject };
}
/** Per batch: resolved when its rows are prepared (validated, parents looked up) and when its refs are recorded. */
interface Gates { prepared: Deferred; refs: Deferred }
/** What batches in flight (not committed yet) decided: ids accepted, recorded (legacy id → ref id), rejected. */
interface Inflight { accepted: Set<string>; newId: Map<string, string>; rejected: Set<string> }
const newInflight = (): Inflight => ({ accepted: new Set(), newId: new Map(), rejected: new Set() });

interface BatchResult {
  rejects: Reject[]; newId: Map<string, string>; mapRows: { id: string; newId: string; key: string; updated: string; sha: string }[];
  superseded: { tenant: string; key: string }[]; events: Map<string, analyticsV1.EmailEvent[]>;
}

const TRANSIENT = ['UNAVAILABLE', 'DEADLINE_EXCEEDED', 'UNAUTHENTICATED', 'PERMISSION_DENIED', 'RESOURCE_EXHAUSTED', 'ABORTED'];

/**
 * Moves one batch of legacy rows into the tiers (used by the keyset pass and the catch-up):
 * validate (rejects), bodies + attachments to content (`conc` calls in flight), refs through
 * ImportMessages (original created/processed/status; a known legacy id is a catch-up update),
 * in waves so a parent in the same batch is recorded first, then the states analytics cannot
 * get from MessageRecorded (delivered/opened/clicked) through IngestEvents at the row's `updated`.
 * A row already migrated and unchanged since (`migrate_map.legacy_updated`) is skipped.
 */
async function migrateRows(ctx: Ctx, rows: LegacyEmail[], inflight: Inflight = newInflight(), prev?: Gates, mine?: Gates): Promise<BatchResult> {
  try {
    return await migrateRowsIn(ctx, rows, inflight, prev, mine);
  } catch (err) {
    // The batches behind this one wait on its gates: they fail too (and commit nothing).
    mine?.prepared.reject(err);
    mine?.refs.reject(err);
    throw err;
  }
}

async function migrateRowsIn(ctx: Ctx, rows: LegacyEmail[], inflight: Inflight, prev?: Gates, mine?: Gates): Promise<BatchResult> {
  const { db, pm, conc, ref, time } = ctx;
  // Prepared in batch order: a reply's parent in an earlier batch still in flight is known by then.
  if (prev) await time('wait: previous batch prepared', prev.prepared.promise);
  const ids = rows.map((r) => r.id);
  const known = new Map<string, { new_id: string; storage_key: string; body_sha: string | null; unchanged: boolean }>();
  for (const m of (await db.query(
    `select m.legacy_id, m.new_id, m.storage_key, m.body_sha, m.legacy_updated >= u.updated::timestamptz as unchanged
       from migrate_map m join unnest($1::uuid[], $2::text[]) as u(id, updated) on m.kind = 'email' and m.legacy_id = u.id`,
    [ids, rows.map((r) => r.updated_exact)])).rows) known.set(m.legacy_id, m);
  const rejectedBefore = new Set((await db.query(`select legacy_id from migrate_rejects where legacy_id = any($1) and reason not like '${WAITING}%'`, [ids])).rows.map((r) => r.legacy_id as string));
  rows = rows.filter((e) => !rejectedBefore.has(e.id) && !known.get(e.id)?.unchanged);

  // Parents: already migrated (map), rejected, or in this batch.
  const parentIds = [...new Set(rows.map((r) => r.parent_message_id).filter((p): p is string => !!p))];
  const parents = new Map<string, string>();
  const rejectedParents = new Set<string>();
  // Earlier batches still in flight (their map rows are not committed yet): recorded (an id),
  // accepted (recorded by the time this batch's refs go: refs go in batch order), rejected. Read
  // before the database: a batch leaves these sets only after its commit, so a parent is in one
  // or the other.
  const earlierAccepted = new Set(parentIds.filter((p) => inflight.accepted.has(p)));
  for (const p of parentIds) {
    if (inflight.newId.has(p)) parents.set(p, inflight.newId.get(p)!);
    if (inflight.rejected.has(p)) rejectedParents.add(p);
  }
  if (parentIds.length) {
    for (const p of (await db.query(`select legacy_id, new_id from migrate_map where kind = 'email' and legacy_id = any($1)`, [parentIds])).rows) parents.set(p.legacy_id, p.new_id);
    for (const p of (await db.query(`select legacy_id from migrate_rejects where legacy_id = any($1) and reason not like '${WAITING}%'`, [parentIds])).rows) rejectedParents.add(p.legacy_id);
  }
  // A parent that is in emails but not migrated yet (a reply created before its parent, or met
  // first by the catch-up's `updated` order): the reply waits (a WAITING reject the catch-up retries).
  const inBatch = new Set(rows.map((r) => r.id));
  const earlier = (p: string) => earlierAccepted.has(p) && !rejectedParents.has(p);
  const unknownParents = parentIds.filter((p) => !parents.has(p) && !rejectedParents.has(p) && !inBatch.has(p) && !earlier(p));
  const laterParents = unknownParents.length ? new Set((await db.query(`select id from emails where id = any($1)`, [unknownParents])).rows.map((r) => r.id as string)) : new Set<string>();
  // Own faults first, then (to a fixpoint) rows whose parent is neither migrated nor accepted here:
  // the order of a parent and its reply inside the batch does not matter.
  const own = new Map(rows.map((e) => [e.id, rejectReason(e, ctx.maxBody)]));
  const accepted = new Set(rows.filter((e) => !own.get(e.id)).map((e) => e.id));
  for (let again = true; again; ) {
    again = false;
    for (const e of rows) {
      if (accepted.has(e.id) && e.parent_message_id && !parents.has(e.parent_message_id) && !accepted.has(e.parent_message_id) && !earlier(e.parent_message_id)) { accepted.delete(e.id); again = true; }
    }
  }
  const rejects: Reject[] = [];
  let ok: LegacyEmail[] = [];
  for (const e of rows) {
    if (accepted.has(e.id)) { ok.push(e); continue; }
    const p = e.parent_message_id;
    const reason = own.get(e.id) ?? (p && laterParents.has(p) ? `${WAITING} ${p} (in emails, not migrated yet; the catch-up retries)` : p && (rejectedParents.has(p) || inBatch.has(p)) ? `parent ${p} was rejected` : `missing parent ${p}`);
    rejects.push({ id: e.id, tenant: e.tenant_id, reason });
  }
  for (const e of ok) inflight.accepted.add(e.id);
  for (const r of rejects) if (!r.reason.startsWith(WAITING)) inflight.rejected.add(r.id);
  mine?.prepared.resolve();

  // Content first (a ref never names a key that was not stored). A body that changed since it
  // was migrated goes under a new key (the content tier refuses another body under a key).
  const key = new Map<string, string>();
  const sha = new Map<string, string>();
  const superseded: { id: string; tenant: string; key: string }[] = [];
  for (const e of ok) {
    const h = contentChecksum(e.content_text, e.content_html, e.headers);
    sha.set(e.id, h);
    const k = known.get(e.id);
    key.set(e.id, !k ? storageKeyOf(e) : k.body_sha === h ? k.storage_key : versionedKeyOf(e, h));
    if (k && k.storage_key !== key.get(e.id)) superseded.push({ id: e.id, tenant: e.tenant_id, key: k.storage_key });
  }
  const refused = await time('content', putBodies(ctx, ok, key, sha, superseded));
  if (refused.length) {
    rejects.push(...refused);
    const gone = new Set(refused.map((r) => r.id));
    ok = ok.filter((e) => !gone.has(e.id));
  }
  const attRows = ok.length ? (await db.query(`select * from email_attachments where email_id = any($1) order by email_id, created, id`, [ok.map((e) => e.id)])).rows : [];
  const byId = new Map(ok.map((e) => [e.id, e]));
  await time('content', pool(attRows, conc, async (a) => {
    const e = byId.get(a.email_id)!;
    await pm.content.addAttachment({ tenantId: e.tenant_id, parentStorageKey: key.get(e.id)!,
      // An attachment id belongs to one parent: under a changed body's new key it gets one derived from both.
      attachmentId: key.get(e.id) === storageKeyOf(e) ? a.id : nameUuid(`${a.id}@${key.get(e.id)}`), filename: a.filename ?? '', mimeType: a.mime_type, content: a.content, storageDisposition: a.disposition === 'inline' ? contentV1.StorageDisposition.STORAGE_DISPOSITION_INLINE : contentV1.StorageDisposition.STORAGE_DISPOSITION_ATTACHMENT });
  }));

  // Refs in batch order (a parent in an earlier batch in flight is recorded first), and in waves
  // inside the batch: a row whose parent is in this batch waits for the wave that records it.
  if (prev) await time('wait: previous batch refs', prev.refs.promise);
  // An earlier batch's parent: in memory, or (that batch committed and left it) in the map.
  const unresolved = parentIds.filter((p) => !parents.has(p) && earlierAccepted.has(p));
  for (const p of unresolved) if (inflight.newId.has(p)) parents.set(p, inflight.newId.get(p)!);
  const fromMap = unresolved.filter((p) => !parents.has(p));
  if (fromMap.length) for (const p of (await db.query(`select legacy_id, new_id from migrate_map where kind = 'email' and legacy_id = any($1)`, [fromMap])).rows) parents.set(p.legacy_id, p.new_id);
  const newId = new Map<string, string>();
  let pending = ok;
  while (pending.length) {
    const wave = pending.filter((e) => !e.parent_message_id || parents.has(e.parent_message_id) || newId.has(e.parent_message_id));
    const waveIds = new Set(wave.map((e) => e.id));
    pending = pending.filter((e) => !waveIds.has(e.id));
    if (!wave.length) { for (const e of pending) rejects.push({ id: e.id, tenant: e.tenant_id, reason: `parent ${e.parent_message_id} was rejected` }); break; }
    const byTenant = new Map<string, LegacyEmail[]>();
    for (const e of wave) byTenant.set(e.tenant_id, [...(byTenant.get(e.tenant_id) ?? []), e]);
    const input = (e: LegacyEmail): metadataV1.ImportedMessage => ({
      message: {
        emailAccountId: ref('mailbox', e.email_account_id), campaignId: ref('campaign', e.campaign_id), leadId: ref('lead', e.lead_id),
        sequenceStepId: ref('step', e.sequence_step_id),
        parentMessageId: e.parent_message_id ? (parents.get(e.parent_message_id) ?? newId.get(e.parent_message_id) ?? '') : '',
        direction: DIRECTIONS[e.direction], messageType: TYPES[e.message_type], fromEmail: e.from_email, toEmail: e.to_email, subject: e.subject ?? '',
        status: STATUSES[e.status], contentStorageKey: key.get(e.id)!, providerMessageId: e.provider_message_id ?? '', clientKey: e.id,
        bounceType: e.message_type === 'bounce' ? (e.bounce_type === 'soft' ? commonV1.BounceType.BOUNCE_TYPE_SOFT : commonV1.BounceType.BOUNCE_TYPE_HARD) : commonV1.BounceType.BOUNCE_TYPE_UNSPECIFIED,
        inReplyTo: '', references: [],
      },
      // The ref keeps the legacy email's id (a known client_key keeps whatever id it has: a ref
      // an earlier version of this tool imported under a generated id stays as it is).
      created: e.created, processed: e.processed ?? undefined, id: e.id,
    });
    const calls: (() => Promise<void>)[] = [];
    for (const [tenantId, list] of byTenant) {
      for (let i = 0; i < list.length; i += 1000) {
        const chunk = list.slice(i, i + 1000);
        calls.push(async () => {
          try {
            const r = await pm.metadata.importMessages({ tenantId, messages: chunk.map(input) });
            r.results.forEach((x, k) => newId.set(chunk[k].id, x.message!.id));
          } catch (err) {
            if (!(err instanceof PenguinMailsError) || TRANSIENT.includes(err.codeName)) throw err;
            // All or nothing: find the row(s) the tier refuses, one by one.
            for (const e of chunk) {
              try { newId.set(e.id, (await pm.metadata.importMessages({ tenantId, messages: [input(e)] })).results[0].message!.id); }
              catch (err2) {
                if (!(err2 instanceof PenguinMailsError) || TRANSIENT.includes(err2.codeName)) throw err2;
                rejects.push({ id: e.id, tenant: e.tenant_id, reason: err2.codeName === 'ALREADY_EXISTS' ? `already used (provider_message_id, or the id itself): ${err2.describe()}` : `metadata refused: ${err2.describe()}` });
              }
            }
          }
        });
      }
    }
    await time('metadata', pool(calls, conc, (f) => f()));
  }
  for (const [k, v] of newId) inflight.newId.set(k, v);
  for (const e of pending) inflight.rejected.add(e.id);
  for (const r of rejects) if (!r.reason.startsWith(WAITING)) inflight.rejected.add(r.id);
  mine?.refs.resolve();

  // The later states MessageRecorded does not report, at the row's `updated`; keyed so a redone
  // batch counts once (delivered is a fact: analytics derives its id from ref + type).
  const events = new Map<string, analyticsV1.EmailEvent[]>();
  const T = analyticsV1.EmailEventType;
  for (const e of ok) {
    const id = newId.get(e.id);
    if (!id || e.direction !== 'outbound') continue;
    const base = { campaignId: ref('campaign', e.campaign_id), emailAccountId: ref('mailbox', e.email_account_id), sequenceStepId: ref('step', e.sequence_step_id), leadId: ref('lead', e.lead_id), messageRefId: id, occurredAt: e.updated };
    const list: analyticsV1.EmailEvent[] = [];
    const ev = (type: analyticsV1.EmailEventType) => list.push({ eventId: nameUuid(`${e.id}:${type}`), eventType: type, ...base } as analyticsV1.EmailEvent);
    if (['delivered', 'opened', 'clicked'].includes(e.status)) ev(T.EMAIL_EVENT_TYPE_DELIVERED);
    if (['opened', 'clicked'].includes(e.status)) ev(T.EMAIL_EVENT_TYPE_OPENED);
    if (e.status === 'clicked') ev(T.EMAIL_EVENT_TYPE_CLICKED);
    if (list.length) events.set(e.tenant_id, [...(events.get(e.tenant_id) ?? []), ...list]);
  }
  const mapRows = ok.filter((e) => newId.has(e.id)).map((e) => ({ id: e.id, newId: newId.get(e.id)!, key: key.get(e.id)!, updated: e.updated_exact, sha: sha.get(e.id)! }));
  return { rejects, newId, mapRows, superseded: superseded.filter((x) => newId.has(x.id)), events };
}

/** Bodies per BatchPutContent call at most (the content tier's limit per call). */
export const PUT_BATCH_ITEMS = 500;
/**
 * Bytes (text + html + headers) per BatchPutContent call at most: well under the content tier's
 * CONTENT_BATCH_MAX_BYTES (64 MiB by default), so a legacy batch of large bodies becomes a few
 * calls that run side by side instead of one message of hundreds of MiB.
 */
export const PUT_BATCH_BYTES = 16 * 1024 * 1024;
const bodyBytes = (e: LegacyEmail) => Buffer.byteLength(e.content_text ?? '') + Buffer.byteLength(e.content_html ?? '') + Buffer.byteLength(JSON.stringify(e.headers ?? {}));

/**
 * The batch's bodies through BatchPutContent: per tenant, chunks of at most PUT_BATCH_ITEMS
 * bodies and PUT_BATCH_BYTES, `conc` calls in flight. Each item is idempotent on its key (a
 * redone batch gets EXISTING). KEY_CONFLICT (the key holds another body: an earlier attempt
 * stored this row's previous body and died before its map row) puts the body under its
 * versioned key instead (the old object becomes superseded: deleted once the map names the
 * new key); a conflict there too is returned as a reject. `key` is updated in place.
 */
async function putBodies(ctx: Ctx, rows: LegacyEmail[], key: Map<string, string>, sha: Map<string, string>, superseded: { id: string; tenant: string; key: string }[]): Promise<Reject[]> {
  const refused: Reject[] = [];
  const send = async (list: LegacyEmail[], retryConflicts: boolean) => {
    const chunks: LegacyEmail[][] = [];
    const byTenant = new Map<string, LegacyEmail[]>();
    for (const e of list) byTenant.set(e.tenant_id, [...(byTenant.get(e.tenant_id) ?? []), e]);
    for (const mine of byTenant.values()) {
      let cur: LegacyEmail[] = [], bytes = 0;
      for (const e of mine) {
        const b = bodyBytes(e);
        if (cur.length && (cur.length >= PUT_BATCH_ITEMS || bytes + b > PUT_BATCH_BYTES)) { chunks.push(cur); cur = []; bytes = 0; }
        cur.push(e); bytes += b;
      }
      if (cur.length) chunks.push(cur);
    }
    const conflicts: LegacyEmail[] = [];
    await pool(chunks, ctx.conc, async (chunk) => {
      const r = await ctx.pm.content.batchPutContent({
        tenantId: chunk[0].tenant_id,
        items: chunk.map((e) => ({ storageKey: key.get(e.id)!, contentText: e.content_text ?? undefined, contentHtml: e.content_html ?? undefined, headers: e.headers, rawSizeBytes: e.raw_size_bytes })),
      });
      r.results.forEach((x, i) => {
        if (x.outcome !== contentV1.BatchPutOutcome.BATCH_PUT_OUTCOME_KEY_CONFLICT) return;
        const e = chunk[i];
        const versioned = versionedKeyOf(e, sha.get(e.id)!);
        if (retryConflicts && key.get(e.id) !== versioned) {
          superseded.push({ id: e.id, tenant: e.tenant_id, key: key.get(e.id)! });
          key.set(e.id, versioned);
          conflicts.push(e);
        } else refused.push({ id: e.id, tenant: e.tenant_id, reason: `content refused: ${x.error?.message ?? 'key conflict'}` });
      });
    });
    if (conflicts.length) await send(conflicts, false);
  };
  await send(rows, true);
  return refused;
}

/** Events per IngestEvents call (the analytics tier's limit per call). */
export const INGEST_BATCH = 1000;
/** A batch's analytics events (sent before its commit: a crash before it redoes them, same ids). */
async function sendEvents(ctx: Ctx, events: Map<string, analyticsV1.EmailEvent[]>): Promise<void> {
  const ingest: (() => Promise<unknown>)[] = [];
  for (const [tenantId, list] of events) for (let i = 0; i < list.length; i += INGEST_BATCH) ingest.push(() => ctx.pm.analytics.ingestEvents({ tenantId, events: list.slice(i, i + INGEST_BATCH) }));
  await ctx.time('analytics', pool(ingest, ctx.conc, (f) => f().then(() => undefined)));
}

/** The map rows and rejects of a batch (and the checkpoint, when given) in one legacy transaction; returns the rejects not recorded before. */
async function commitBatch(db: Client, b: BatchResult, checkpoint?: { last: LegacyEmail; rows: number }): Promise<Reject[]> {
  const fresh: Reject[] = [];
  await db.query('begin');
  try {
    if (b.mapRows.length) {
      await db.query(
        `insert into migrate_map (kind, legacy_id, new_id, storage_key, legacy_updated, body_sha)
         select 'email', * from unnest($1::uuid[], $2::uuid[], $3::text[], $4::timestamptz[], $5::text[])
         on conflict (kind, legacy_id) do update set new_id = excluded.new_id, storage_key = excluded.storage_key, legacy_updated = excluded.legacy_updated, body_sha = excluded.body_sha`,
        [b.mapRows.map((m) => m.id), b.mapRows.map((m) => m.newId), b.mapRows.map((m) => m.key), b.mapRows.map((m) => m.updated), b.mapRows.map((m) => m.sha)],
      );
    }
    if (b.mapRows.length) await db.query(`delete from migrate_rejects where legacy_id = any($1) and reason like '${WAITING}%'`, [b.mapRows.map((m) => m.id)]);
    if (b.rejects.length) {
      // A final reason replaces a WAITING one; a final one stays as it was (listed once).
      const ins = await db.query(
        `insert into migrate_rejects (legacy_id, reason) select * from unnest($1::uuid[], $2::text[])
         on conflict (legacy_id) do update set reason = excluded.reason, at = now() where migrate_rejects.reason like '${WAITING}%' and migrate_rejects.reason <> excluded.reason
         returning legacy_id`, [b.rejects.map((r) => r.id), b.rejects.map((r) => r.reason)]);
      const got = new Set(ins.rows.map((r) => r.legacy_id as string));
      fresh.push(...b.rejects.filter((r) => got.has(r.id) && !r.reason.startsWith(WAITING)));
    }
    if (checkpoint) await db.query('update migrate_checkpoint set last_created = $2, last_id = $3, rows_done = rows_done + $4, updated = now() where name = $1', [CHECKPOINT, checkpoint.last.created_exact, checkpoint.last.id, checkpoint.rows]);
    await db.query('commit');
  } catch (err) { await db.query('rollback'); throw err; }
  return fresh;
}

/**
 * Refuses to start (nothing written) when the legacy rows go back further than the analytics
 * tier keeps raw events (GetFreshness' raw_retention_days, ANALYTICS_RAW_TTL_DAYS). Analytics
 * counts an event once by its id only while it keeps the event: an older one counts again each
 * time it is sent again, and this tool sends a batch's events again whenever it resumes or redoes
 * the batch (at least once, on purpose: a crash between the write and the checkpoint). So a
 * resumed migration of such history would count some of it twice. The operator raises the
 * setting (or sets 0, keep for ever) for the migration, or accepts the risk (`allowRecount`).
 * A day of margin, for a migration that runs across midnight.
 */
export async function checkAnalyticsRetention(db: Client, pm: PenguinMails, opts: Pick<RunOptions, 'allowRecount'> = {}): Promise<void> {
  if (opts.allowRecount) return;
  const oldest = (await db.query<{ tenant_id: string; created: Date }>('select tenant_id, created from emails order by created, id limit 1')).rows[0];
  if (!oldest) return;
  const days = (await pm.analytics.getFreshness({ tenantId: oldest.tenant_id })).rawRetentionDays;
  if (!days) return;
  const age = Math.floor((Date.now() - oldest.created.getTime()) / 86_400_000);
  if (age + 1 < days) return;
  throw new Error(
    `the legacy emails go back ${age} days (to ${oldest.created.toISOString().slice(0, 10)}), and the analytics tier keeps raw events ${days} days ` +
      `(ANALYTICS_RAW_TTL_DAYS): an event older than that counts again each time it is sent again, which a resumed or redone batch does. ` +
      `Set ANALYTICS_RAW_TTL_DAYS=0 (or above ${age + 30}) on the analytics tier for the migration and restart it, or pass --allow-recount to go on anyway. Nothing was written`,
  );
}

async function contextOf(db: Client, pm: PenguinMails, opts: RunOptions): Promise<Ctx> {
  await checkAnalyticsRetention(db, pm, opts);
  await ensureControlTables(db);
  await migrateReferences(db, pm);
  const refMap = new Map<string, string>();
  for (const r of (await db.query<{ kind: string; legacy_id: string; new_id: string }>(`select kind, legacy_id, new_id from migrate_map where kind <> 'email'`)).rows) refMap.set(`${r.kind}:${r.legacy_id}`, r.new_id);
  const time = async <T>(stage: string, p: Promise<T>): Promise<T> => {
    const t = performance.now();
    try { return await p; } finally { if (opts.timings) opts.timings[stage] = (opts.timings[stage] ?? 0) + performance.now() - t; }
  };
  const attempts = opts.attempts ?? PATIENT_POLICY.maxAttempts;
  const retrying = patient(pm, {
    policy: { maxAttempts: attempts }, deadlineMs: opts.callDeadlineMs,
    onRetry: (call, attempt, err, wait) => opts.progress?.(`${opts.tty ? '\n' : ''}retrying ${call} in ${(wait / 1000).toFixed(1)} s (attempt ${attempt + 1} of ${attempts}): ${err.codeName}: ${err.message.slice(0, 200)}`),
  });
  return { db, pm: retrying, time, maxBody: opts.maxBodyBytes ?? 10 * 1024 * 1024, conc: opts.concurrency ?? 16, ref: (kind, id) => (id ? (refMap.get(`${kind}:${id}`) ?? '') : '') };
}

/** Progress: a redrawn bar on a terminal, one plain line per `everyMs` otherwise. */
export function progressReporter(write: (s: string) => void, tty: boolean, everyMs = 1000) {
  let last = 0;
  return (done: number, total: number, rate: number, extra: string, final = false) => {
    if (!final && Date.now() - last < (tty ? 200 : everyMs)) return;
    last = Date.now();
    const eta = rate > 0 ? Math.max(0, (total - done) / rate) : 0;
    const pct = (100 * done) / Math.max(total, 1);
    const figures = `${done}/${total} rows (${pct.toFixed(1)}%), ${extra}, ${rate.toFixed(0)} rows/s, ETA ${eta.toFixed(0)} s`;
    if (!tty) return write(figures);
    const width = 30;
    const fill = Math.min(width, Math.round((pct / 100) * width));
    write(`\r[${'#'.repeat(fill)}${'-'.repeat(width - fill)}] ${figures}\x1b[K${final ? '\n' : ''}`);
  };
}

/**
 * The rows/s cap. Fixed (`throttle`), or adaptive (`adaptive` = the extra latency allowed, e.g.
 * 0.2): the tool watches its own effect on the legacy database with a probe (a primary-key read
 * of one `emails` row with its body, as the application's "open an email", every 200 ms on a
 * connection of its own) against the probe's median measured before the run (25 probes). Every
 * 10 probes (2 s) it halves the cap when their median is above baseline x (1 + adaptive) + 0.1 ms,
 * and raises it by a tenth (at least 5 rows/s) otherwise; it starts at 50 rows/s, and a fixed
 * throttle is the ceiling. Batches under a cap are sized to about half a second of it (>= 10
 * rows), so the load is spread evenly (a 500-row batch every 50 s at 10 rows/s is a full-speed
 * burst that the application feels at its p99).
 */
export class Throttle {
  rate: number;
  private next = 0;
  private probes: number[] = [];
  private timer?: NodeJS.Timeout;
  private probeDb?: Client;
  baseline = 0;
  /** Rate changes (ms since start, rows/s): what the adaptive cap did. */
  readonly history: [number, number][] = [];
  private readonly t0 = performance.now();
  constructor(private readonly max: number, private readonly adaptive: number) {
    this.rate = adaptive > 0 ? Math.min(max || Infinity, 50) : max;
  }
  get limited(): boolean { return this.rate > 0 && Number.isFinite(this.rate); }
  /** Rows for the next read: about half a second at the cap, within [10, batch]. */
  batchRows(batch: number): number { return this.limited ? Math.max(10, Math.min(batch, Math.round(this.rate / 2))) : batch; }
  /** Waits until `rows` more rows may start. */
  async take(rows: number): Promise<void> {
    if (!this.limited) return;
    const now = performance.now();
    const start = Math.max(now, this.next);
    this.next = start + (rows / this.rate) * 1000;
    if (start > now) await new Promise((r) => setTimeout(r, start - now));
  }
  async start(connect: () => Client, probeId: string | undefined): Promise<void> {
    if (!(this.adaptive > 0) || !probeId) return;
    const c = connect();
    await c.connect();
    this.probeDb = c;
    const probe = async () => { const t = performance.now(); await c.query('select * from emails where id = $1', [probeId]); return performance.now() - t; };
    const base: number[] = [];
    for (let i = 0; i < 25; i++) { base.push(await probe()); await new Promise((r) => setTimeout(r, 20)); }
    this.baseline = quantile(base, 0.5);
    let busy = false;
    this.timer = setInterval(() => {
      if (busy) return;
      busy = true;
      probe().then((ms) => {
        this.probes.push(ms);
        if (this.probes.length < 10) return;
        const median = quantile(this.probes, 0.5);
        this.probes = [];
        const limit = this.baseline * (1 + this.adaptive) + 0.1;
        const cap = this.max > 0 ? this.max : 100_000;
        const was = this.rate;
        this.rate = median > limit ? Math.max(5, this.rate / 2) : Math.min(cap, this.rate + Math.max(5, this.rate / 10));
        if (this.rate !== was) this.history.push([Math.round(performance.now() - this.t0), Math.round(this.rate)]);
      }, () => undefined).finally(() => { busy = false; });
    }, 200);
  }
  async stop(): Promise<void> {
    clearInterval(this.timer);
    await this.probeDb?.end().catch(() => undefined);
  }
}
function quantile(xs: number[], q: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(q * s.length))] ?? 0;
}

function appendRejects(file: string | undefined, fresh: Reject[]) {
  // After the commit: a crash before this line leaves the reason in migrate_rejects (`rejects` prints them all).
  if (file) for (const r of fresh) appendFileSync(file, JSON.stringify({ legacy_id: r.id, tenant_id: r.tenant, reason: r.reason }) + '\n');
}

async function deleteSuperseded(pm: PenguinMails, list: { tenant: string; key: string }[]) {
  // After the map names the new key: the old body is garbage. NOT_FOUND = an earlier attempt deleted it.
  for (const s of list) {
    try { await pm.content.deleteContent({ tenantId: s.tenant, storageKey: s.key }); }
    catch (err) { if (!(err instanceof PenguinMailsError && err.codeName === 'NOT_FOUND')) throw err; }
  }
}

/** A new connection to the database `db` is connected to. Its 'error' event is heard: a connection that dies between
 * two statements (a database restart) then fails the run through its next statement, which
 * says so and leaves the checkpoint to resume from, instead of crashing the process. */
const connectionLike = (db: Client) => () => listenForErrors(new Client({ host: db.host, port: db.port, user: db.user, password: db.password, database: db.database, ssl: db.ssl }));
export function listenForErrors(c: Client): Client {
  c.on('error', () => undefined);
  return c;
}

/**
 * Batches through the tiers with up to `inFlight` batches at once, in order where it matters:
 * prepared (validation, parent lookup) in batch order; bodies of several batches side by side;
 * refs in batch order (a reply's parent in an earlier batch is recorded first); then the batch's
 * analytics events; then its map rows, rejects and (keyset pass) checkpoint in one legacy
 * transaction, in batch order, each after the one before it committed: the checkpoint only
 * ever moves past batches fully written. A failure in one batch fails the batches behind it
 * before their commit; the run waits for every batch in flight to settle, then throws.
 */
async function pipeline(
  ctx: Ctx, opts: RunOptions, writer: Client, throttle: Throttle,
  read: (after: LegacyEmail | null, limit: number) => Promise<LegacyEmail[]>,
  checkpointOf: ((rows: LegacyEmail[]) => { last: LegacyEmail; rows: number }) | undefined,
  onCommitted: (b: BatchResult, rows: number) => void,
): Promise<number> {
  const batchSize = opts.batchSize ?? 500;
  const inFlight = Math.max(1, opts.inFlight ?? 3);
  const inflight = newInflight();
  const running = new Set<Promise<void>>();
  const recent: string[][] = [];
  let prevGates: Gates | undefined;
  let prevDone: Promise<void> = Promise.resolve();
  let failure: unknown;
  let batches = 0;
  let next = read(null, throttle.batchRows(batchSize));
  next.catch(() => undefined);
  try {
    for (;;) {
      if (opts.signal?.aborted) { failure ??= new Error('aborted'); break; }
      const rows = await ctx.time('wait: legacy read', next);
      if (!rows.length) break;
      next = read(rows[rows.length - 1], throttle.batchRows(batchSize));
      next.catch(() => undefined);
      await throttle.take(rows.length);
      while (running.size >= inFlight && !failure) await ctx.time('wait: batches in flight', Promise.race(running));
      if (failure) break;
      // Every batch up to n - inFlight has committed (commits are in order and at most inFlight
      // are uncommitted): the database answers for them, so they leave the in-memory sets.
      recent.push(rows.map((r) => r.id));
      while (recent.length > inFlight) for (const id of recent.shift()!) { inflight.accepted.delete(id); inflight.newId.delete(id); inflight.rejected.delete(id); }
      const n = ++batches;
      const gates: Gates = { prepared: deferred(), refs: deferred() };
      const prev = prevGates, before = prevDone;
      prevGates = gates;
      const p = (async () => {
        const b = await migrateRows(ctx, rows, inflight, prev, gates);
        await sendEvents(ctx, b.events);
        await opts.afterBatchWritten?.(n);
        await ctx.time('wait: previous commit', before);
        const fresh = await ctx.time('legacy commit', commitBatch(writer, b, checkpointOf?.(rows)));
        await deleteSuperseded(ctx.pm, b.superseded);
        appendRejects(opts.rejectsFile, fresh);
        onCommitted(b, rows.length);
      })();
      prevDone = p;
      p.catch(() => undefined);
      running.add(p);
      p.then(() => running.delete(p), (err) => { failure ??= err; running.delete(p); });
    }
  } finally {
    await Promise.allSettled(running);
    await next.catch(() => undefined);
  }
  if (failure) throw failure;
  return batches;
}

/**
 * `run`: copies `emails` in keyset order (created, id) from the checkpoint on (migrateRows per
 * batch; the next batch is read while this one is written), then the map rows, rejects and
 * checkpoint in one legacy transaction; then the catch-up (rows inserted behind the checkpoint
 * or updated since they were migrated). A batch redone after a crash writes nothing new.
 */
export async function runMigration(db: Client, pm: PenguinMails, opts: RunOptions = {}): Promise<RunResult> {
  const t0 = Date.now();
  const ctx = await contextOf(db, pm, opts);
  await db.query(`update migrate_state set phase = 'migrating', updated = now() where phase = 'legacy'`);
  await db.query(`insert into migrate_checkpoint (name) values ($1) on conflict do nothing`, [CHECKPOINT]);
  const total = Number((await db.query('select count(*) from emails')).rows[0].count);
  let done = Number((await db.query('select rows_done from migrate_checkpoint where name = $1', [CHECKPOINT])).rows[0].rows_done);
  const startDone = done;
  let migrated = 0, rejected = 0, batches = 0;
  const report = opts.progress ? progressReporter(opts.progress, opts.tty ?? false) : undefined;

  // Batches are read, and committed, on connections of their own while others are written
  // (lookups on `db`); the probe of an adaptive throttle has its own too.
  const conn = connectionLike(db);
  const reader = conn();
  const writer = conn();
  await Promise.all([reader.connect(), writer.connect()]);
  const throttle = opts.throttleState ?? new Throttle(opts.throttle ?? 0, opts.adaptive ?? 0);
  try {
    // The keyset pass stops at the newest row when it starts: what the application writes meanwhile
    // is the catch-up's (else a busy application would keep the pass going for ever).
    const hw = (await db.query(`select created::text as created, id from emails order by created desc, id desc limit 1`)).rows[0];
    await throttle.start(conn, hw?.id);
    const cp = (await db.query('select last_created::text, last_id from migrate_checkpoint where name = $1', [CHECKPOINT])).rows[0];
    const from = cp.last_created ? { created_exact: cp.last_created, id: cp.last_id } : null;
    const read = (last: LegacyEmail | null, limit: number) => {
      const after = last ?? from;
      return reader.query<LegacyEmail>(
        `select ${EXACT} from emails where ($1::timestamptz is null or (created, id) > ($1::timestamptz, $2::uuid)) and (created, id) <= ($3::timestamptz, $4::uuid) order by created, id limit $5`,
        [after?.created_exact ?? null, after?.id ?? null, hw?.created ?? null, hw?.id ?? null, limit],
      ).then((r) => r.rows);
    };
    try {
      batches = await pipeline(ctx, opts, writer, throttle, read, (rows) => ({ last: rows[rows.length - 1], rows: rows.length }), (b, n) => {
        migrated += b.mapRows.length;
        rejected += b.rejects.filter((r) => !r.reason.startsWith(WAITING)).length;
        done += n;
        const rate = (done - startDone) / Math.max((Date.now() - t0) / 1000, 0.001);
        report?.(done, Math.max(total, done), rate, `${migrated} migrated, ${rejected} rejected`);
      });
    } finally {
      await reader.end();
      await writer.end();
    }
    if (opts.catchUp !== false) {
      const c = await catchUp(db, pm, { ...opts, afterBatchWritten: undefined, ctx, throttleState: throttle });
      migrated += c.migrated;
      rejected += c.rejected;
    }
  } finally {
    if (!opts.throttleState) await throttle.stop();
  }
  const rate = (done - startDone) / Math.max((Date.now() - t0) / 1000, 0.001);
  report?.(done, Math.max(total, done), rate, `${migrated} migrated, ${rejected} rejected`, true);
  return { migrated, rejected, batches, seconds: (Date.now() - t0) / 1000 };
}

/**
 * The catch-up: legacy rows neither migrated nor rejected (inserted behind the checkpoint or
 * after the keyset pass's high-water mark) and rows whose `updated` is newer than what was
 * migrated (`migrate_map.legacy_updated`). The application's inserts and updates set `updated`
 * (column default, touch trigger), so one index range finds them all: `updated` from the first
 * run's start (`migrate_checkpoint.started`; `full` scans every row) up to the catch-up's own
 * start, keyset (updated, id), through migrateRows. A pass is repeated (at most `passes`) while
 * it moves something: a reply whose parent came later in the pass goes in the next. A changed
 * body goes under a new key (versionedKeyOf), the ref is updated to it (ImportMessages'
 * catch-up) and the old object deleted. Writes after the catch-up began are the next one's:
 * `switch` runs one and then verify, which refuses while anything differs.
 */
export async function catchUp(db: Client, pm: PenguinMails, opts: RunOptions & { ctx?: Ctx; passes?: number; full?: boolean } = {}): Promise<{ migrated: number; rejected: number; deleted: number; passes: number }> {
  const ctx = opts.ctx ?? (await contextOf(db, pm, opts));
  const deleted = await recordDeleted(db);
  if (deleted.length) opts.progress?.(`${opts.tty ? '\r\x1b[K' : ''}catch-up: ${deleted.length} migrated legacy rows deleted since (migrate_deleted; their refs are kept)${opts.tty ? '\n' : ''}`);
  const batchSize = opts.batchSize ?? 500;
  const bounds = (await db.query(`select (select started::text from migrate_checkpoint where name = $1) as since, now()::text as until`, [CHECKPOINT])).rows[0];
  const since = opts.full || !bounds.since ? '-infinity' : bounds.since;
  let migrated = 0, rejected = 0, passes = 0;
  const conn = connectionLike(db);
  const reader = conn();
  const writer = conn();
  await Promise.all([reader.connect(), writer.connect()]);
  const throttle = opts.throttleState ?? new Throttle(opts.throttle ?? 0, 0);
  try {
    while (passes < (opts.passes ?? 5)) {
      passes++;
      let moved = 0;
      const read = (after: LegacyEmail | null, limit: number) => reader.query<LegacyEmail>(
        `select ${EXACT} from emails e
          where ((e.updated >= $1::timestamptz and e.updated <= $2::timestamptz) or e.id in (select legacy_id from migrate_rejects where reason like '${WAITING}%'))
            and ($3::timestamptz is null or (e.updated, e.id) > ($3::timestamptz, $4::uuid))
            and (not exists (select 1 from migrate_map m where m.kind = 'email' and m.legacy_id = e.id and m.legacy_updated >= e.updated))
            and not exists (select 1 from migrate_rejects r where r.legacy_id = e.id and r.reason not like '${WAITING}%')
          order by e.updated, e.id limit $5`,
        [since, bounds.until, after?.updated_exact ?? null, after?.id ?? null, limit]).then((r) => r.rows);
      await pipeline(ctx, { ...opts, batchSize }, writer, throttle, read, undefined, (b) => {
        const final = b.rejects.filter((r) => !r.reason.startsWith(WAITING)).length;
        migrated += b.mapRows.length;
        rejected += final;
        moved += b.mapRows.length + final;
      });
      opts.progress?.(`${opts.tty ? '\r\x1b[K' : ''}catch-up pass ${passes}: ${moved} migrated, updated or rejected${opts.tty ? '\n' : ''}`);
      if (moved === 0) break;
    }
  } finally {
    await reader.end();
    await writer.end();
  }
  return { migrated, rejected, deleted: deleted.length, passes };
}

/**
 * Legacy rows deleted after they were migrated (a map row without its `emails` row), recorded
 * once in migrate_deleted (tenant from the storage key). What a legacy delete means here: the
 * email existed and was counted, so the tiers keep its ref, body and history (the metadata tier
 * has no message delete, and analytics' counts stay as they were); migrate_deleted is the list
 * the application hides or deletes through the tiers after the switch, and verify counts these
 * rows on the tier side (legacy + deleted = refs + rejected) and names them in a note.
 */
export async function recordDeleted(db: Client): Promise<string[]> {
  const { rows } = await db.query(
    `insert into migrate_deleted (legacy_id, tenant_id, new_id, storage_key)
     select m.legacy_id, split_part(m.storage_key, '/', 1)::uuid, m.new_id, m.storage_key from migrate_map m
      where m.kind = 'email' and not exists (select 1 from emails e where e.id = m.legacy_id)
        and not exists (select 1 from migrate_deleted d where d.legacy_id = m.legacy_id)
     on conflict do nothing returning legacy_id`);
  return rows.map((r) => r.legacy_id as string);
}
