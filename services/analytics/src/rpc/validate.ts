import { commonV1, type analyticsV1 } from '@penguinmails/contracts';
import type { Validator } from '@penguinmails/service-kit';
import type { IngestLimits } from '../deps';
import { EVENT_TYPES, eventTypeName } from '../domain/event-types';
import type { BounceKind, IngestEvent } from '../domain/events';
import { NIL_UUID } from '../domain/ids';

// Checks of the analytics RPCs, on top of the kit's Validator; the handlers call v.done().

/** Nothing real happened before this; an older occurred_at is a unit or parsing bug upstream. */
const EARLIEST = new Date('2000-01-01T00:00:00Z');
/** A BadRequest is sent in a trailer; past this many violations the rest are summarised. */
const MAX_VIOLATIONS = 25;

/**
 * The events of an IngestEvents batch, each field checked (`events[3].event_type`). A batch
 * over `limits.maxBatch` gets one violation and its events are not looked at: the caller has
 * to split it anyway.
 */
export function ingestBatch(v: Validator, events: analyticsV1.EmailEvent[], limits: IngestLimits, now = new Date()): IngestEvent[] {
  if (events.length === 0) v.add('events', 'REQUIRED', 'events must hold at least one event');
  if (events.length > limits.maxBatch) {
    v.add('events', 'OUT_OF_RANGE', `at most ${limits.maxBatch} events per call, got ${events.length}; split the batch`);
    return [];
  }
  const latest = new Date(now.getTime() + limits.maxFutureMs);
  const out: IngestEvent[] = [];
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
    const bounceType = bounceKind(v, f('bounce_type'), e.bounceType, type);
    if (v.ok && type && at) out.push({ eventId, type, occurredAt: at, campaignId, emailAccountId, sequenceStepId, leadId, messageRefId, bounceType });
  });
  if (v.violations.length > MAX_VIOLATIONS) {
    const hidden = v.violations.length - MAX_VIOLATIONS;
    v.violations.splice(MAX_VIOLATIONS);
    v.add('events', 'TOO_MANY_ERRORS', `${hidden} more violations not listed; fix the ones above and send again`);
  }
  return out;
}

/** A bounce's type: unspecified = unknown (counted as hard); set on another event type is refused. */
function bounceKind(v: Validator, field: string, value: commonV1.BounceType | undefined, type: string | undefined): BounceKind | undefined {
  const B = commonV1.BounceType;
  if (!value) return undefined; // BOUNCE_TYPE_UNSPECIFIED
  if (value !== B.BOUNCE_TYPE_HARD && value !== B.BOUNCE_TYPE_SOFT) {
    v.add(field, 'UNKNOWN_VALUE', `${field} must be BOUNCE_TYPE_HARD or BOUNCE_TYPE_SOFT, got ${value}`);
    return undefined;
  }
  if (type !== undefined && type !== 'bounced') {
    v.add(field, 'NOT_APPLICABLE', `${field} is only for EMAIL_EVENT_TYPE_BOUNCED events`);
    return undefined;
  }
  return value === B.BOUNCE_TYPE_HARD ? 'hard' : 'soft';
}

/**
 * What the three Get*Metrics RPCs share: one tenant, one id of one dimension (named `idField`
 * in violations), an optional time range whose end is after its start.
 */
export function metricsQuery(
  v: Validator,
  req: { tenantId: string; id: string; timeRange?: commonV1.TimeRange },
  idField: string,
): { tenantId: string; id: string; start?: Date; end?: Date } {
  const tenantId = v.uuid('tenant_id', req.tenantId);
  const id = v.uuid(idField, req.id);
  v.check(id !== NIL_UUID, idField, 'NIL_UUID', `${idField} must not be the nil UUID`);
  const start = req.timeRange?.start;
  const end = req.timeRange?.end;
  v.check(!start || !Number.isNaN(start.getTime()), 'time_range.start', 'MALFORMED', 'time_range.start is not a valid timestamp');
  v.check(!end || !Number.isNaN(end.getTime()), 'time_range.end', 'MALFORMED', 'time_range.end is not a valid timestamp');
  if (start && end && end.getTime() <= start.getTime())
    v.add('time_range.end', 'OUT_OF_RANGE', `time_range.end (${end.toISOString()}) must be after time_range.start (${start.toISOString()})`);
  return { tenantId, id, start, end };
}
