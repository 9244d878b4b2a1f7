import type { Store } from '../db/client';
import type { EventRow, InsertEvents } from '../db/insert-events';
import { keyer, writerFor } from './event-writer';
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
 * different details, the copy with the higher rank wins (the writer replaces the stored copy):
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
  // No per-event copy with the tenant and source added: the batch has one of each.
  return writeRows(store, events, () => tenantId, () => 'ingest');
}

/**
 * Stores events of any tenants; returns how many distinct events that was (after fact ids are
 * derived). Resolves once ClickHouse has them.
 *
 * "Both paths count once": a fact of a message (sent, delivered, replied, bounced,
 * auto_replied with a message_ref_id) is stored under the id derived from (message_ref_id,
 * type), not the id it came with, so the same fact reported by the metadata tier's events and
 * by a caller is one event. An open (click) of a message also yields the message's
 * unique_opened (unique_clicked) fact, whose derived id makes it one per message: the unique
 * counts. The store's writer (event-writer.ts) writes only what is not stored yet, or knows
 * more than the stored copy, so every count is a plain sum.
 */
export async function storeEvents(store: Store, events: TenantEvent[], insert?: InsertEvents): Promise<number> {
  return writeRows(
    store,
    events,
    (e) => e.tenantId,
    (e) => e.source,
    insert,
  );
}

async function writeRows<E extends IngestEvent>(
  store: Store,
  events: E[],
  tenantOf: (e: E) => string,
  sourceOf: (e: E) => EventSource,
  insert?: InsertEvents,
): Promise<number> {
  const rows: EventRow[] = [];
  const ids = new Set<string>();
  let key: ReturnType<typeof keyer> | undefined;
  for (const e of events) {
    const row = toRow(e, tenantOf(e), sourceOf(e));
    rows.push(row);
    key ??= keyer(row.tenant_id);
    ids.add(key(row));
    const unique = UNIQUE_OF[row.event_type];
    if (unique && row.message_ref_id !== NIL_UUID) {
      rows.push({ ...row, event_id: factEventId(row.message_ref_id, unique), event_type: unique, detail_rank: SOURCE_RANK.ingest, bounce_type: '' });
    }
  }
  await writerFor(store).write(rows, insert);
  return ids.size;
}

/** The per-message fact an event also is: a message's first open / first click. */
const UNIQUE_OF: Partial<Record<string, string>> = { opened: 'unique_opened', clicked: 'unique_clicked' };

/** An event as its `events` row: absent ids are the nil UUID (see ids.ts); ids lower-case. */
const lower = (id: string | undefined): string => (id ?? NIL_UUID).toLowerCase();

function toRow(e: IngestEvent, tenantId: string, source: EventSource): EventRow {
  const fact = e.messageRefId !== undefined && e.messageRefId !== NIL_UUID && FACT_TYPES.has(e.type);
  const bounceType = e.type === 'bounced' ? (e.bounceType ?? '') : '';
  return {
    event_id: fact ? factEventId(e.messageRefId!, e.type) : e.eventId.toLowerCase(),
    tenant_id: tenantId.toLowerCase(),
    occurred_at: toClickHouseTime(e.occurredAt),
    event_type: e.type,
    campaign_id: lower(e.campaignId),
    email_account_id: lower(e.emailAccountId),
    sequence_step_id: lower(e.sequenceStepId),
    lead_id: lower(e.leadId),
    message_ref_id: lower(e.messageRefId),
    bounce_type: bounceType,
    variant: e.variant ?? '',
    detail_rank: SOURCE_RANK[source] + (bounceType ? KNOWS_BOUNCE_TYPE : 0),
    sign: 1,
  };
}
