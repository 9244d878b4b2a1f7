import { commonV1, type analyticsV1 } from '@penguinmails/contracts';
import { isUuid, type Validator } from '@penguinmails/service-kit';
import type { IngestLimits } from '../deps';
import { EVENT_TYPES, eventTypeName } from '../domain/event-types';
import type { BounceKind, IngestEvent } from '../domain/events';
import { NIL_UUID } from '../domain/ids';

// Checks of the analytics RPCs, on top of the kit's Validator; the handlers call v.done().

/** Nothing real happened before this; an older occurred_at is a unit or parsing bug upstream. */
const EARLIEST = new Date('2000-01-01T00:00:00Z');
/**
 * The latest instant a query range may name. ClickHouse's DateTime64 ends at 2299-12-31, and a
 * query rounds its bounds out to whole hours and days: a bound within a day of that end
 * overflowed into an error (the long hostile-input campaign found GetCampaignMetrics answering
 * INTERNAL for time_range.start = 9999-12-31T23:59:59).
 */
const LATEST_QUERY = new Date('2299-12-30T00:00:00Z');
/** The earliest a Get*Metrics range may start: DateTime64's start, plus a day for rounding. */
const EARLIEST_QUERY = new Date('1900-01-02T00:00:00Z');
/** A BadRequest is sent in a trailer; past this many violations the rest are summarised. */
const MAX_VIOLATIONS = 25;
/** Longest A/B variant name. */
const MAX_VARIANT = 64;

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
    // The common case first: a valid event, checked without building a field name or a message
    // (a batch of 1,000 would otherwise make ~20,000 strings nobody reads). Anything it does not
    // accept goes through the detailed checks below, which name the field and the problem.
    const fast = validEvent(e, latest);
    if (fast) {
      if (v.ok) out.push(fast);
      return;
    }
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
    const variant = e.variant ?? '';
    if (variant.length > MAX_VARIANT || /[\u0000-\u001f\u007f]/.test(variant))
      v.add(f('variant'), 'MALFORMED', `${f('variant')} must be at most ${MAX_VARIANT} characters without control characters`);
    if (v.ok && type && at)
      out.push({ eventId, type, occurredAt: at, campaignId, emailAccountId, sequenceStepId, leadId, messageRefId, bounceType, variant: variant || undefined });
  });
  if (v.violations.length > MAX_VIOLATIONS) {
    const hidden = v.violations.length - MAX_VIOLATIONS;
    v.violations.splice(MAX_VIOLATIONS);
    v.add('events', 'TOO_MANY_ERRORS', `${hidden} more violations not listed; fix the ones above and send again`);
  }
  return out;
}

/** A bounce's type: unspecified = unknown (counted as hard); set on another event type is refused. */
const CONTROL = /[\u0000-\u001f\u007f]/;
/** '' (absent) → undefined; a UUID → lower case; anything else → null (invalid). */
const idOrAbsent = (s: string | undefined): string | undefined | null => (!s ? undefined : isUuid(s) ? s.toLowerCase() : null);

/** The event as an IngestEvent when every check of ingestBatch passes, else undefined (then the detailed checks run). */
function validEvent(e: analyticsV1.EmailEvent, latest: Date): IngestEvent | undefined {
  if (!e.eventId || !isUuid(e.eventId) || e.eventId === NIL_UUID) return undefined;
  const type = eventTypeName(e.eventType);
  const at = e.occurredAt;
  if (type === undefined || !at || Number.isNaN(at.getTime()) || at < EARLIEST || at > latest) return undefined;
  const campaignId = idOrAbsent(e.campaignId);
  const emailAccountId = idOrAbsent(e.emailAccountId);
  const sequenceStepId = idOrAbsent(e.sequenceStepId);
  const leadId = idOrAbsent(e.leadId);
  const messageRefId = idOrAbsent(e.messageRefId);
  if (campaignId === null || emailAccountId === null || sequenceStepId === null || leadId === null || messageRefId === null) return undefined;
  if (sequenceStepId && !campaignId) return undefined;
  const B = commonV1.BounceType;
  let bounceType: BounceKind | undefined;
  if (e.bounceType) {
    if (type !== 'bounced' || (e.bounceType !== B.BOUNCE_TYPE_HARD && e.bounceType !== B.BOUNCE_TYPE_SOFT)) return undefined;
    bounceType = e.bounceType === B.BOUNCE_TYPE_HARD ? 'hard' : 'soft';
  }
  const variant = e.variant ?? '';
  if (variant.length > MAX_VARIANT || CONTROL.test(variant)) return undefined;
  return { eventId: e.eventId.toLowerCase(), type, occurredAt: at, campaignId, emailAccountId, sequenceStepId, leadId, messageRefId, bounceType, variant: variant || undefined };
}

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
  const inRange = (d: Date) => !Number.isNaN(d.getTime()) && d >= EARLIEST_QUERY && d <= LATEST_QUERY;
  const span = `between ${EARLIEST_QUERY.toISOString()} and ${LATEST_QUERY.toISOString()}`;
  v.check(!start || inRange(start), 'time_range.start', 'OUT_OF_RANGE', `time_range.start must be a timestamp ${span}`);
  v.check(!end || inRange(end), 'time_range.end', 'OUT_OF_RANGE', `time_range.end must be a timestamp ${span}`);
  if (start && end && inRange(start) && inRange(end) && end.getTime() <= start.getTime())
    v.add('time_range.end', 'OUT_OF_RANGE', `time_range.end (${end.toISOString()}) must be after time_range.start (${start.toISOString()})`);
  return { tenantId, id, start, end };
}

const DAY_MS = 86_400_000;

/**
 * A time range of a query RPC: both bounds valid timestamps, end after start, at most
 * `maxDays` long; `required` demands both bounds. Violations name `field.start` / `field.end`.
 */
export function queryRange(
  v: Validator,
  field: string,
  range: commonV1.TimeRange | undefined,
  opts: { required: boolean; maxDays: number },
): { start?: Date; end?: Date } {
  const start = range?.start;
  const end = range?.end;
  const valid = (d: Date | undefined) => d !== undefined && !Number.isNaN(d.getTime()) && d >= EARLIEST && d <= LATEST_QUERY;
  if (start === undefined) {
    if (opts.required) v.add(`${field}.start`, 'REQUIRED', `${field}.start is required`);
  } else if (!valid(start)) v.add(`${field}.start`, 'OUT_OF_RANGE', `${field}.start must be a timestamp between ${EARLIEST.toISOString()} and ${LATEST_QUERY.toISOString()}`);
  if (end === undefined) {
    if (opts.required) v.add(`${field}.end`, 'REQUIRED', `${field}.end is required`);
  } else if (!valid(end)) v.add(`${field}.end`, 'OUT_OF_RANGE', `${field}.end must be a timestamp between ${EARLIEST.toISOString()} and ${LATEST_QUERY.toISOString()}`);
  if (valid(start) && valid(end)) {
    if (end!.getTime() <= start!.getTime())
      v.add(`${field}.end`, 'OUT_OF_RANGE', `${field}.end (${end!.toISOString()}) must be after ${field}.start (${start!.toISOString()})`);
    else if (end!.getTime() - start!.getTime() > opts.maxDays * DAY_MS)
      v.add(`${field}.end`, 'OUT_OF_RANGE', `${field} spans more than ${opts.maxDays} days; ask for a shorter range`);
  }
  return { start: valid(start) ? start : undefined, end: valid(end) ? end : undefined };
}

/**
 * An IANA time zone name; empty = UTC. Returned in the spelling ICU resolves it to (Node
 * accepts any case, ClickHouse does not). Unknown to Node: INVALID_ARGUMENT naming the field;
 * unknown to ClickHouse only: the domain answers the same (domain/insights.ts).
 */
export function timeZone(v: Validator, field: string, value: string | undefined): string {
  const name = value ?? '';
  if (name === '') return 'UTC';
  if (name.length > 64 || !/^[A-Za-z][A-Za-z0-9_+\-/]*$/.test(name)) {
    v.add(field, 'UNKNOWN_VALUE', `${field} must be an IANA time zone name such as "Europe/Berlin"`);
    return 'UTC';
  }
  try {
    return new Intl.DateTimeFormat('en-US', { timeZone: name }).resolvedOptions().timeZone;
  } catch {
    v.add(field, 'UNKNOWN_VALUE', `${field} "${name}" is not a known IANA time zone (e.g. "America/New_York", "UTC")`);
    return 'UTC';
  }
}

/** An enum field: UNSPECIFIED is REQUIRED, a number outside `names` is UNKNOWN_VALUE. */
export function enumChoice<T extends string>(v: Validator, field: string, value: number | undefined, names: Record<number, T>, label: string): T | undefined {
  const n = value ?? 0;
  const name = names[n];
  if (name !== undefined) return name;
  v.add(field, n === 0 ? 'REQUIRED' : 'UNKNOWN_VALUE', `${field} must be one of ${Object.keys(names).map((k) => `${label}${names[Number(k)].toUpperCase()}`).join(', ')}, got ${n}`);
  return undefined;
}

/** A page-like row limit: 0/absent = default, else 1..max. */
export function rowLimit(v: Validator, field: string, value: number | undefined, opts: { default: number; max: number }): number {
  const n = value ?? 0;
  if (n === 0) return opts.default;
  if (!Number.isInteger(n) || n < 1 || n > opts.max) {
    v.add(field, 'OUT_OF_RANGE', `${field} must be between 1 and ${opts.max}, got ${n}`);
    return opts.default;
  }
  return n;
}

/** A required UUID that is not the nil UUID. */
export function requiredId(v: Validator, field: string, value: string | undefined): string {
  const id = v.uuid(field, value);
  v.check(id !== NIL_UUID, field, 'NIL_UUID', `${field} must not be the nil UUID`);
  return id;
}

/** An optional UUID (empty = none) that is not the nil UUID. */
export function optionalId(v: Validator, field: string, value: string | undefined): string | undefined {
  const id = v.optionalUuid(field, value);
  v.check(id !== NIL_UUID, field, 'NIL_UUID', `${field} must not be the nil UUID`);
  return id;
}

/** as_of of the health RPCs: absent = now; not before 2000, not ahead of now + skew. */
export function asOf(v: Validator, field: string, value: Date | undefined, maxFutureMs: number, now = new Date()): Date {
  if (value === undefined) return now;
  if (Number.isNaN(value.getTime()) || value < EARLIEST || value.getTime() > now.getTime() + maxFutureMs) {
    v.add(field, 'OUT_OF_RANGE', `${field} must be between ${EARLIEST.toISOString()} and now`);
    return now;
  }
  return value;
}
