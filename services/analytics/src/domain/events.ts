import type { analyticsV1 } from '@penguinmails/contracts';
import { Validator } from '@penguinmails/service-kit';
import type { Store } from '../db/client';
import { insertEvents, type EventRow } from '../db/insert-events';
import { EVENT_TYPES, eventTypeName } from './event-types';
import { NIL_UUID, toClickHouseTime } from './ids';

export interface IngestLimits {
  /** INGEST_MAX_BATCH */
  maxBatch: number;
  /** INGEST_MAX_FUTURE_MS */
  maxFutureMs: number;
}

/** Nothing real happened before this; an older occurred_at is a unit or parsing bug upstream. */
const EARLIEST = new Date('2000-01-01T00:00:00Z');
/** A BadRequest is sent in a trailer; past this many violations the rest are summarised. */
const MAX_VIOLATIONS = 25;

/**
 * Checks a whole batch and turns it into rows; throws InvalidArgumentError naming every wrong
 * field (`events[3].event_type`) before anything is written.
 */
export function validateIngest(req: analyticsV1.IngestEventsRequest, limits: IngestLimits, now = new Date()): { tenantId: string; rows: EventRow[] } {
  const v = new Validator();
  const tenantId = v.uuid('tenant_id', req.tenantId);
  const events = req.events ?? [];
  if (events.length === 0) v.add('events', 'REQUIRED', 'events must hold at least one event');
  if (events.length > limits.maxBatch) {
    // Not worth checking each of them: the caller has to split the batch anyway.
    v.add('events', 'OUT_OF_RANGE', `at most ${limits.maxBatch} events per call, got ${events.length}; split the batch`);
    v.done();
  }
  const latest = new Date(now.getTime() + limits.maxFutureMs);
  const rows: EventRow[] = [];
  events.forEach((e, i) => {
    const f = (name: string) => `events[${i}].${name}`;
    const eventId = v.uuid(f('event_id'), e.eventId);
    v.check(eventId !== NIL_UUID, f('event_id'), 'NIL_UUID', `${f('event_id')} must not be the nil UUID`);
    const type = eventTypeName(e.eventType);
    if (type === undefined)
      v.add(
        f('event_type'),
        e.eventType ? 'UNKNOWN_VALUE' : 'REQUIRED',
        `${f('event_type')} must be one of ${EVENT_TYPES.map((t) => 'EMAIL_EVENT_TYPE_' + t.toUpperCase()).join(', ')}, got ${e.eventType ?? 0}`,
      );
    const at = e.occurredAt;
    if (!at || Number.isNaN(at.getTime())) v.add(f('occurred_at'), 'REQUIRED', `${f('occurred_at')} is required (a timestamp)`);
    else if (at < EARLIEST || at > latest)
      v.add(
        f('occurred_at'),
        'OUT_OF_RANGE',
        `${f('occurred_at')} must be between ${EARLIEST.toISOString()} and now + ${limits.maxFutureMs} ms, got ${at.toISOString()}`,
      );
    const campaignId = v.optionalUuid(f('campaign_id'), e.campaignId);
    const emailAccountId = v.optionalUuid(f('email_account_id'), e.emailAccountId);
    const sequenceStepId = v.optionalUuid(f('sequence_step_id'), e.sequenceStepId);
    const leadId = v.optionalUuid(f('lead_id'), e.leadId);
    const messageRefId = v.optionalUuid(f('message_ref_id'), e.messageRefId);
    // A step belongs to a campaign; without it the step's events would be missing from the
    // campaign's numbers.
    if (sequenceStepId && !campaignId)
      v.add(f('campaign_id'), 'REQUIRED', `${f('campaign_id')} is required when sequence_step_id is set`);
    if (v.ok && type && at)
      rows.push({
        event_id: eventId,
        tenant_id: tenantId,
        occurred_at: toClickHouseTime(at),
        event_type: type,
        campaign_id: campaignId ?? NIL_UUID,
        email_account_id: emailAccountId ?? NIL_UUID,
        sequence_step_id: sequenceStepId ?? NIL_UUID,
        lead_id: leadId ?? NIL_UUID,
        message_ref_id: messageRefId ?? NIL_UUID,
      });
  });
  if (v.violations.length > MAX_VIOLATIONS) {
    const hidden = v.violations.length - MAX_VIOLATIONS;
    v.violations.splice(MAX_VIOLATIONS);
    v.add('events', 'TOO_MANY_ERRORS', `${hidden} more violations not listed; fix the ones above and send again`);
  }
  v.done();
  return { tenantId, rows };
}

/**
 * Stores a validated batch; returns how many distinct event ids it held. Repeats inside the
 * batch are dropped here; repeats across batches (redeliveries) are collapsed by the table's
 * ReplacingMergeTree key and never counted twice because metrics read with FINAL.
 */
export async function ingestEvents(store: Store, rows: EventRow[]): Promise<number> {
  const unique = new Map<string, EventRow>();
  for (const r of rows) if (!unique.has(r.event_id)) unique.set(r.event_id, r);
  await insertEvents(store, [...unique.values()]);
  return unique.size;
}
