import type { Store } from '../db/client';
import { insertEvents, type EventRow, type InsertEvents } from '../db/insert-events';
import { copyKey, selectStoredCopies, type StoredCopy } from '../db/select-stored-copies';
import type { EventTypeName } from './event-types';
import { FACT_TYPES, factEventId } from './fact-id';
import { NIL_UUID, toClickHouseTime } from './ids';

export type BounceKind = 'hard' | 'soft';

/** One validated event (absent ids are undefined). */
export interface IngestEvent {
  eventId: string;
  type: EventTypeName;
  occurredAt: Date;
  campaignId?: string;
  emailAccountId?: string;
  sequenceStepId?: string;
  leadId?: string;
  messageRefId?: string;
  /** bounced only; undefined = not known (counted as hard). */
  bounceType?: BounceKind;
  /** The A/B variant of the message, when the reporting path knows it. */
  variant?: string;
}

/** An event with its tenant (a consumer's batch spans tenants) and the path that reported it. */
export interface TenantEvent extends IngestEvent {
  tenantId: string;
  source: EventSource;
}

/**
 * Which path reported an event. When two paths report the same fact of a message with
 * different details, the row with the higher rank wins (ReplacingMergeTree(detail_rank)):
 * the message itself (MessageRecorded: its own bounce type, the time it was recorded) over a
 * caller's report (IngestEvents) over a status change (which knows only the new status).
 */
export const SOURCE_RANK = { status_change: 1, ingest: 2, message: 3 } as const;
export type EventSource = keyof typeof SOURCE_RANK;
/** Added to the rank of a bounce whose type is known: knowing hard/soft beats any source that does not. */
const KNOWS_BOUNCE_TYPE = 4;

/**
 * Stores a validated batch of one tenant (IngestEvents); returns how many distinct event ids
 * it held (after fact ids are derived, see {@link storeEvents}).
 */
export async function ingestEvents(store: Store, tenantId: string, events: IngestEvent[]): Promise<number> {
  return storeEvents(
    store,
    events.map((e) => ({ ...e, tenantId, source: 'ingest' as const })),
  );
}

/**
 * Stores events of any tenants; returns how many distinct rows that was (this call's).
 *
 * "Both paths count once": a fact of a message (sent, delivered, replied, bounced,
 * auto_replied with a message_ref_id) is stored under the id derived from (message_ref_id,
 * type), not the id it came with, so the same fact reported by the metadata tier's events and
 * by a caller is one key. Repeats inside the batch are dropped here (the highest rank kept).
 *
 * De-duplication before the rollups (migration 006): the writer looks up which keys are stored
 * already and marks each row with what the rollups' materialized views count of it
 * ({@link decide}), so each event is counted once and the rollups are plain sums. The lookup and
 * the insert run under one writer per store in this process (calls that arrive meanwhile are
 * coalesced into the next insert: bigger blocks, one lookup), so two concurrent copies of one
 * event cannot both look "new". Several processes writing one ClickHouse server are not
 * serialized by this; see README "Rollups" for that bound.
 */
export async function storeEvents(store: Store, events: TenantEvent[], insert: InsertEvents = insertEvents): Promise<number> {
  const unique = new Map<string, EventRow>();
  for (const e of events) {
    const row = toRow(e);
    const key = copyKey(row.tenant_id, row.campaign_id, row.event_id);
    const seen = unique.get(key);
    if (!seen || row.detail_rank > seen.detail_rank) unique.set(key, row);
  }
  if (unique.size > 0) await writerOf(store, insert).write([...unique.values()]);
  return unique.size;
}

/**
 * What the rollups count of a row, given what is stored for its key: a new key counts (1); a
 * copy that is the first to know a stored bounce is soft adds the soft bounce only (2), in the
 * hour the bounce was counted; a copy that outranks the stored ones is stored uncounted (0) so
 * the raw table's winner is the best copy; any other copy is not stored at all (undefined).
 */
export function decide(row: EventRow, stored: StoredCopy | undefined): EventRow | undefined {
  if (!stored) return { ...row, counted: 1 };
  if (row.event_type === 'bounced' && row.bounce_type === 'soft' && !stored.soft) {
    const countedAt = stored.occurredAt.startsWith('1970-') ? row.occurred_at : stored.occurredAt;
    return { ...row, occurred_at: countedAt, counted: 2 };
  }
  if (row.detail_rank > stored.rank) return { ...row, counted: 0 };
  return undefined;
}

/** Most rows one coalesced insert takes (several callers' batches). */
const MAX_COALESCED_ROWS = 50_000;

interface Pending {
  rows: EventRow[];
  done: (err?: unknown) => void;
}

/** One serial writer per (store, insert function): lookup + insert never overlap in this process. */
class Writer {
  private queue: Pending[] = [];
  private running = false;
  constructor(
    private readonly store: Store,
    private readonly insert: InsertEvents,
  ) {}

  write(rows: EventRow[]): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.queue.push({ rows, done: (err) => (err === undefined ? resolve() : reject(err)) });
      if (!this.running) void this.drain();
    });
  }

  private async drain(): Promise<void> {
    this.running = true;
    try {
      while (this.queue.length > 0) {
        const group: Pending[] = [];
        let n = 0;
        while (this.queue.length > 0 && (group.length === 0 || n + this.queue[0].rows.length <= MAX_COALESCED_ROWS)) {
          const p = this.queue.shift()!;
          group.push(p);
          n += p.rows.length;
        }
        try {
          await this.writeGroup(group.flatMap((p) => p.rows));
          for (const p of group) p.done();
        } catch (err) {
          for (const p of group) p.done(err ?? new Error('insert failed'));
        }
      }
    } finally {
      this.running = false;
    }
  }

  private async writeGroup(rows: EventRow[]): Promise<void> {
    // Across the coalesced batches too: one row per key, the highest rank (soft known wins ties).
    const best = new Map<string, EventRow>();
    for (const r of rows) {
      const key = copyKey(r.tenant_id, r.campaign_id, r.event_id);
      const seen = best.get(key);
      if (!seen || r.detail_rank > seen.detail_rank) best.set(key, r);
    }
    const stored = await selectStoredCopies(
      this.store,
      [...best.values()].map((r) => ({ tenantId: r.tenant_id, campaignId: r.campaign_id, eventId: r.event_id })),
    );
    const out: EventRow[] = [];
    for (const [key, r] of best) {
      const d = decide(r, stored.get(key));
      if (d) out.push(d);
    }
    await this.insert(this.store, out);
  }
}

const writers = new WeakMap<Store, Map<InsertEvents, Writer>>();
function writerOf(store: Store, insert: InsertEvents): Writer {
  let byInsert = writers.get(store);
  if (!byInsert) writers.set(store, (byInsert = new Map()));
  let w = byInsert.get(insert);
  if (!w) byInsert.set(insert, (w = new Writer(store, insert)));
  return w;
}

/** An event as its email_events row: absent ids are the nil UUID (see ids.ts). */
function toRow(e: TenantEvent): EventRow {
  const fact = e.messageRefId !== undefined && e.messageRefId !== NIL_UUID && FACT_TYPES.has(e.type);
  const bounceType = e.type === 'bounced' ? (e.bounceType ?? '') : '';
  return {
    event_id: fact ? factEventId(e.messageRefId!, e.type) : e.eventId,
    tenant_id: e.tenantId,
    occurred_at: toClickHouseTime(e.occurredAt),
    event_type: e.type,
    campaign_id: e.campaignId ?? NIL_UUID,
    email_account_id: e.emailAccountId ?? NIL_UUID,
    sequence_step_id: e.sequenceStepId ?? NIL_UUID,
    lead_id: e.leadId ?? NIL_UUID,
    message_ref_id: e.messageRefId ?? NIL_UUID,
    bounce_type: bounceType,
    variant: e.variant ?? '',
    detail_rank: SOURCE_RANK[e.source] + (bounceType ? KNOWS_BOUNCE_TYPE : 0),
    counted: 1,
  };
}
