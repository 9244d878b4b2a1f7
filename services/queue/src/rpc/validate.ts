import type { Validator } from '@penguinmails/service-kit';

// Checks shared by the queue's RPCs, on top of the kit's Validator.

const NAME_RE = /^[A-Za-z0-9._:-]+$/;

/** A queue or task name: 1..100 characters of letters, digits and `._:-`. */
export function name(v: Validator, field: string, value: string | undefined, opts: { required?: boolean } = {}): string {
  const s = v.string(field, value, { max: 100, required: opts.required ?? true });
  if (s && s.length <= 100 && !NAME_RE.test(s))
    v.add(field, 'MALFORMED', `${field} may hold only letters, digits and . _ : - (e.g. "campaign.send_step"), got "${s.slice(0, 60)}"`);
  return s;
}

/** A JSON object no larger than `maxBytes` once serialised. */
export function jsonSize(v: Validator, field: string, value: object | undefined, maxBytes: number): void {
  if (!value) return;
  const bytes = Buffer.byteLength(JSON.stringify(value));
  if (bytes > maxBytes)
    v.add(
      field,
      'TOO_LARGE',
      `${field} is ${bytes} bytes as JSON, more than the ${maxBytes} allowed; pass ids and keys (e.g. a content storage key), not content`,
    );
}

/** A proto Timestamp that ts-proto turned into a Date; absent is allowed. */
export function optionalTime(v: Validator, field: string, value: Date | undefined): Date | undefined {
  if (!value) return undefined;
  if (Number.isNaN(value.getTime())) v.add(field, 'MALFORMED', `${field} is not a valid timestamp`);
  return value;
}
