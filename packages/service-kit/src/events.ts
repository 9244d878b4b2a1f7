import { randomUUID } from 'node:crypto';
import { commonV1 } from '@penguinmails/contracts';

/** The producing tiers; each owns one stream. */
export type Tier = 'metadata' | 'content' | 'queue' | 'analytics';

/**
 * Subject and stream names of the platform: `<prefix>.<tier>.<tenant>.<event>` captured by
 * stream `<STREAMPREFIX>_<TIER>`. Production uses `pm` / `PM`; tests pass unique prefixes so
 * test files never share streams.
 */
export class EventNames {
  constructor(
    readonly subjectPrefix = 'pm',
    readonly streamPrefix = 'PM',
  ) {}

  /** e.g. `pm.metadata.<tenant>.message_recorded` */
  subject(tier: Tier, tenantId: string, event: string): string {
    return `${this.subjectPrefix}.${tier}.${tenantId}.${event}`;
  }

  /** What the tier's stream captures: `pm.metadata.>` */
  tierSubjects(tier: Tier): string {
    return `${this.subjectPrefix}.${tier}.>`;
  }

  /** Every `<event>` of a tier, any tenant: `pm.metadata.*.message_recorded` */
  eventFilter(tier: Tier, event: string): string {
    return `${this.subjectPrefix}.${tier}.*.${event}`;
  }

  stream(tier: Tier): string {
    return `${this.streamPrefix}_${tier.toUpperCase()}`;
  }

  /** Where a consumer puts an event it gave up on: `pm.deadletter.<consumer>.<tenant>`. */
  deadLetterSubject(consumer: string, tenantId: string): string {
    return `${this.subjectPrefix}.deadletter.${consumer}.${tenantId}`;
  }

  deadLetterSubjects(): string {
    return `${this.subjectPrefix}.deadletter.>`;
  }

  deadLetterStream(): string {
    return `${this.streamPrefix}_DEADLETTER`;
  }
}

/** A payload message type from @penguinmails/contracts (ts-proto's `MessageFns`). */
export interface ProtoMessage<T> {
  encode(message: T): { finish(): Uint8Array };
  decode(input: Uint8Array): T;
}

/** Builds an encoded EventEnvelope. `eventId` defaults to a new UUID (the outbox row id). */
export function buildEnvelope<T>(args: {
  eventId?: string;
  tenantId: string;
  source: Tier;
  /** Fully-qualified proto name, e.g. "penguinmails.metadata.v1.MessageRecorded". */
  eventType: string;
  type: ProtoMessage<T>;
  payload: T;
  occurredAt?: Date;
}): { eventId: string; envelope: commonV1.EventEnvelope; bytes: Uint8Array } {
  const envelope: commonV1.EventEnvelope = {
    eventId: args.eventId ?? randomUUID(),
    tenantId: args.tenantId,
    eventType: args.eventType,
    occurredAt: args.occurredAt ?? new Date(),
    source: args.source,
    payload: Buffer.from(args.type.encode(args.payload).finish()),
  };
  return { eventId: envelope.eventId, envelope, bytes: commonV1.EventEnvelope.encode(envelope).finish() };
}

/** Decodes a JetStream message body into its envelope. */
export function decodeEnvelope(data: Uint8Array): commonV1.EventEnvelope {
  return commonV1.EventEnvelope.decode(data);
}
