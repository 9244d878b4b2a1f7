import { metadataV1 } from '@penguinmails/contracts';
import {
  firstSeen,
  isUuid,
  tierEventConsumer,
  withTransaction,
  type BatchOutcome,
  type ConsumedEvent,
  type EventConsumer,
  type Logger,
  type TierConsumerOptions,
} from '@penguinmails/service-kit';
import type { Pool } from 'pg';
import { insertContentRefs, type NewContentRef } from '../db/insert-content-refs';

/** The durable consumer on the metadata stream (also the `consumer` of consumed_events rows). */
export const MESSAGE_REFS_CONSUMER = 'content-message-refs';
const EVENT_TYPE = 'penguinmails.metadata.v1.MessageRecorded';

/** What a key must be to name an object of this tier (see domain/storage-keys.ts). */
const STORAGE_KEY_MAX = 500;
const KEY_CHARS = /^[\x21-\x7e]+$/;

/**
 * What the consumer reads: the metadata tier's stream (created with the settings the kit gives
 * every tier's stream when metadata has not started yet; an existing one is left as its owner
 * configured it) and the durable consumer filtered on message_recorded (the kit's
 * tierEventConsumer).
 */
const messageRefs = tierEventConsumer({ tier: 'metadata', event: 'message_recorded', durable: MESSAGE_REFS_CONSUMER });

/** Declares the stream and durable consumer. Idempotent: every replica calls it at every start. */
export const declareMessageRefsConsumer = messageRefs.declare;

/** The consumer of MessageRecorded (not started: main runs it as background work). */
export function createMessageRefsConsumer(opts: TierConsumerOptions & { pool: Pool }): EventConsumer {
  return messageRefs.create(opts, (events) => handleMessageRecorded(opts.pool, opts.logger, events));
}

/** What one event says: a ref to record, nothing (no key of ours), or why it is rejected. */
type Parsed = { ref: NewContentRef | null } | { reason: string };

function parse(e: ConsumedEvent): Parsed {
  const env = e.envelope;
  if (env.eventType !== EVENT_TYPE) return { reason: `unexpected event type "${env.eventType}" (expected ${EVENT_TYPE})` };
  if (!isUuid(env.eventId)) return { reason: 'event_id is not a UUID' };
  if (!isUuid(env.tenantId)) return { reason: 'tenant_id is not a UUID' };
  let payload: metadataV1.MessageRecorded;
  try {
    payload = metadataV1.MessageRecorded.decode(env.payload);
  } catch (err) {
    return { reason: `undecodable MessageRecorded payload: ${(err as Error).message}` };
  }
  const m = payload.message;
  if (!m) return { reason: 'MessageRecorded without a message' };
  const tenantId = env.tenantId.toLowerCase();
  if (m.tenantId && m.tenantId.toLowerCase() !== tenantId) return { reason: 'message.tenant_id differs from the envelope tenant_id' };
  if (m.id && !isUuid(m.id)) return { reason: 'message.id is not a UUID' };
  const key = m.contentStorageKey;
  // A message without content, or a key that cannot name an object of this tier (every key
  // here starts with its tenant's id: a check constraint), leaves nothing to record.
  if (!key || key.length > STORAGE_KEY_MAX || !KEY_CHARS.test(key) || !key.startsWith(tenantId + '/')) return { ref: null };
  return { ref: { tenantId, storageKey: key, messageId: m.id ? m.id.toLowerCase() : null } };
}

/**
 * Records the storage keys a batch of MessageRecorded events names, in one transaction with
 * their event ids in consumed_events (the kit's firstSeen): a redelivered or republished event
 * is applied once. Malformed events are rejected (dead-lettered by the EventConsumer); every
 * other event of the batch is still recorded.
 */
export async function handleMessageRecorded(pool: Pool, logger: Logger, events: ConsumedEvent[]): Promise<BatchOutcome> {
  const rejected: NonNullable<BatchOutcome['rejected']> = [];
  const accepted: { eventId: string; ref: NewContentRef | null }[] = [];
  for (const event of events) {
    const parsed = parse(event);
    if ('reason' in parsed) rejected.push({ event, reason: parsed.reason });
    else accepted.push({ eventId: event.envelope.eventId.toLowerCase(), ref: parsed.ref });
  }
  if (accepted.length) {
    const recorded = await withTransaction(pool, async (client) => {
      const fresh = await firstSeen(client, MESSAGE_REFS_CONSUMER, [...new Set(accepted.map((a) => a.eventId))]);
      const refs = accepted.filter((a) => a.ref && fresh.has(a.eventId)).map((a) => a.ref!);
      return insertContentRefs(client, refs);
    });
    logger.debug({ events: events.length, rejected: rejected.length, recorded }, 'message refs recorded');
  }
  return { rejected };
}
