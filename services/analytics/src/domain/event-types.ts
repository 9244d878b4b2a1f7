import { analyticsV1 } from '@penguinmails/contracts';

/**
 * The event types this tier counts, as stored in email_events.event_type. A LowCardinality
 * string rather than an Enum8 column: a new type is a line here and in the proto, no ALTER.
 */
export const EVENT_TYPES = ['sent', 'delivered', 'opened', 'clicked', 'replied', 'bounced', 'unsubscribed', 'complained', 'auto_replied'] as const;
export type EventTypeName = (typeof EVENT_TYPES)[number];

const PREFIX = 'EMAIL_EVENT_TYPE_';

/** `EMAIL_EVENT_TYPE_OPENED` → `opened`; undefined for UNSPECIFIED and unknown numbers. */
export function eventTypeName(value: analyticsV1.EmailEventType): EventTypeName | undefined {
  const name = (analyticsV1.EmailEventType as unknown as Record<number, string>)[value];
  if (!name?.startsWith(PREFIX)) return undefined;
  const short = name.slice(PREFIX.length).toLowerCase();
  return (EVENT_TYPES as readonly string[]).includes(short) ? (short as EventTypeName) : undefined;
}
