import { isUuid } from '@penguinmails/service-kit';
import { NIL_UUID } from '../domain/ids';

/** An event this consumer can never store (its reason goes to the dead letter); not retried. */
export class MalformedEvent extends Error {}

/** Nothing real happened before this (the same floor as IngestEvents). */
const EARLIEST = new Date('2000-01-01T00:00:00Z').getTime();

/** A required id of a payload: a UUID, not nil. */
export function requiredId(field: string, value: string | undefined): string {
  if (!value) throw new MalformedEvent(`${field} is missing`);
  if (!isUuid(value) || value === NIL_UUID) throw new MalformedEvent(`${field} is not a UUID: ${JSON.stringify(value.slice(0, 64))}`);
  return value.toLowerCase();
}

/** An optional id: empty is none, anything else must be a UUID. */
export function optionalId(field: string, value: string | undefined): string | undefined {
  if (!value || value === NIL_UUID) return undefined;
  if (!isUuid(value)) throw new MalformedEvent(`${field} is not a UUID: ${JSON.stringify(value.slice(0, 64))}`);
  return value.toLowerCase();
}

/** The first valid time of the candidates (the payload's own, then the envelope's). */
export function eventTime(field: string, ...candidates: (Date | undefined)[]): Date {
  for (const d of candidates) {
    if (!d) continue;
    const t = d.getTime();
    // The same bounds IngestEvents applies; far-future times are a producer bug, not a clock skew.
    if (Number.isNaN(t) || t < EARLIEST || t > Date.now() + 24 * 3600_000) throw new MalformedEvent(`${field} is out of range: ${Number.isNaN(t) ? 'invalid' : d.toISOString()}`);
    return d;
  }
  throw new MalformedEvent(`${field} is missing`);
}
