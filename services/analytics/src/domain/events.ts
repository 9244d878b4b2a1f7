import type { Store } from '../db/client';
import { insertEvents, type EventRow } from '../db/insert-events';
import type { EventTypeName } from './event-types';
import { NIL_UUID, toClickHouseTime } from './ids';

/** One validated event of an IngestEvents batch (absent ids are undefined). */
export interface IngestEvent {
  eventId: string;
  type: EventTypeName;
  occurredAt: Date;
  campaignId?: string;
  emailAccountId?: string;
  sequenceStepId?: string;
  leadId?: string;
  messageRefId?: string;
}

/**
 * Stores a validated batch; returns how many distinct event ids it held. Repeats inside the
 * batch are dropped here; repeats across batches (redeliveries) are collapsed by the table's
 * ReplacingMergeTree key and never counted twice because metrics read with FINAL.
 */
export async function ingestEvents(store: Store, tenantId: string, events: IngestEvent[]): Promise<number> {
  const unique = new Map<string, EventRow>();
  for (const e of events) if (!unique.has(e.eventId)) unique.set(e.eventId, toRow(tenantId, e));
  await insertEvents(store, [...unique.values()]);
  return unique.size;
}

/** An event as its email_events row: absent ids are the nil UUID (see ids.ts). */
function toRow(tenantId: string, e: IngestEvent): EventRow {
  return {
    event_id: e.eventId,
    tenant_id: tenantId,
    occurred_at: toClickHouseTime(e.occurredAt),
    event_type: e.type,
    campaign_id: e.campaignId ?? NIL_UUID,
    email_account_id: e.emailAccountId ?? NIL_UUID,
    sequence_step_id: e.sequenceStepId ?? NIL_UUID,
    lead_id: e.leadId ?? NIL_UUID,
    message_ref_id: e.messageRefId ?? NIL_UUID,
  };
}
