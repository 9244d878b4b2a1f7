import type { Store } from '../db/client';
import { insertEvents, type EventRow, type InsertEvents } from '../db/insert-events';
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
 * Stores events of any tenants in ONE insert; returns how many distinct rows that was.
 *
 * "Both paths count once": a fact of a message (sent, delivered, replied, bounced,
 * auto_replied with a message_ref_id) is stored under the id derived from (message_ref_id,
 * type), not the id it came with, so the same fact reported by the metadata tier's events and
 * by a caller is one row. Repeats inside the batch are dropped here (the highest rank kept);
 * repeats across batches (redeliveries, other paths) collapse in the table's ReplacingMergeTree
 * and are never counted twice because metrics read with FINAL.
 */
export async function storeEvents(store: Store, events: TenantEvent[], insert: InsertEvents = insertEvents): Promise<number> {
  const unique = new Map<string, EventRow>();
  for (const e of events) {
    const row = toRow(e);
    const key = `${row.tenant_id}/${row.event_id}`;
    const seen = unique.get(key);
    if (!seen || row.detail_rank > seen.detail_rank) unique.set(key, row);
  }
  await insert(store, [...unique.values()]);
  return unique.size;
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
  };
}
