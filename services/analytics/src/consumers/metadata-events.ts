import { metadataV1, type commonV1 } from '@penguinmails/contracts';
import { EventConsumer, ensureConsumer, ensureStream, isUuid, type BatchOutcome, type ConsumedEvent, type EventNames, type NatsConnection } from '@penguinmails/service-kit';
import type { Logger } from 'pino';
import type { Store } from '../db/client';
import type { InsertEvents } from '../db/insert-events';
import { storeEvents, type TenantEvent } from '../domain/events';
import { MalformedEvent } from './malformed';
import { fromMessageRecorded } from './message-recorded';
import { fromMessageStatusChanged } from './message-status-changed';

/** The durable consumer's name (and the `<consumer>` of its dead-letter subjects). */
export const METADATA_EVENTS_DURABLE = 'analytics-metadata-events';

/** The metadata tier's events this tier stores, by subject suffix and envelope event_type. */
const HANDLERS: Record<string, { suffix: string; decode: (tenantId: string, payload: Uint8Array, at: Date | undefined, eventId: string) => TenantEvent[] }> = {
  'penguinmails.metadata.v1.MessageRecorded': {
    suffix: 'message_recorded',
    decode: (t, p, at, id) => fromMessageRecorded(t, decode(metadataV1.MessageRecorded, p), at, id),
  },
  'penguinmails.metadata.v1.MessageStatusChanged': {
    suffix: 'message_status_changed',
    decode: (t, p, at, id) => fromMessageStatusChanged(t, decode(metadataV1.MessageStatusChanged, p), at, id),
  },
};

/**
 * The metadata tier's other events (metadata/v1/events.proto): not email events, acked and
 * skipped. They reach this consumer only on a nats-server before 2.10, which cannot filter on
 * two subjects, so the consumer filters on the whole tier there.
 */
const NOT_OURS = new Set(['penguinmails.metadata.v1.LeadCreated', 'penguinmails.metadata.v1.CampaignStatusChanged']);

/** nats-server 2.10 added consumers with several filter subjects. */
function hasMultiFilter(nc: NatsConnection): boolean {
  const [major, minor] = (nc.info?.version ?? '0.0').split('.').map(Number);
  return major > 2 || (major === 2 && minor >= 10);
}

export interface MetadataEventsOptions {
  nc: NatsConnection;
  names: EventNames;
  store: Store;
  logger: Logger;
  /** ANALYTICS_CONSUMER_MAX_BATCH: most events per batch (one insert each). */
  maxBatch: number;
  /** ANALYTICS_CONSUMER_MAX_WAIT_MS: longest a batch waits to fill. */
  maxWaitMs: number;
  /** The metadata stream's limits, as the metadata tier declares them (EVENTS_* settings). */
  stream: { duplicateWindowMs: number; maxAgeMs?: number; maxBytes?: number };
  durable?: string;
  /** How long an unacknowledged event waits before it is redelivered (default 30 s). */
  ackWaitMs?: number;
  /** The batch insert (default insertEvents); tests wrap it to count inserts. */
  insert?: InsertEvents;
}

/**
 * The consumer of pm.metadata.*.message_recorded and message_status_changed into email_events.
 * Declares the metadata stream if it is absent (either tier may start first; ensureStream is
 * idempotent and both pass the same EVENTS_* settings) and the durable pull consumer with a
 * filter on the two events (on nats-server < 2.10, which has one filter per consumer: the
 * whole tier, the other known events skipped), and returns the kit's EventConsumer, not started.
 *
 * Each batch is ONE insert of every event it maps to, acked only after ClickHouse has the rows
 * (the kit acks after `handle` resolves; a failed insert naks the batch for a redelivery). An
 * event that can never be stored (undecodable payload, unknown event type, a message without
 * its mailbox id, ...) is returned as rejected: the kit dead-letters it with the reason and the
 * rest of the batch is stored and acked. Redeliveries are harmless: event ids are the
 * envelope's or, for facts of a message, derived from (message_ref_id, type), and the writer
 * (event-writer.ts) skips or replaces the copies `event_keys` already holds.
 */
export async function metadataEventsConsumer(o: MetadataEventsOptions): Promise<EventConsumer> {
  const stream = o.names.stream('metadata');
  const durable = o.durable ?? METADATA_EVENTS_DURABLE;
  await ensureStream(o.nc, { name: stream, subjects: [o.names.tierSubjects('metadata')], ...o.stream });
  await ensureConsumer(o.nc, stream, {
    durable,
    ackWaitMs: o.ackWaitMs,
    filterSubjects: hasMultiFilter(o.nc)
      ? Object.values(HANDLERS).map((h) => o.names.eventFilter('metadata', h.suffix))
      : [o.names.tierSubjects('metadata')],
    // A whole batch is in flight at once; nats-server's default (1000) would cap a larger one.
    max_ack_pending: Math.max(1_000, o.maxBatch * 2),
  });
  return new EventConsumer({
    nc: o.nc,
    stream,
    durable,
    names: o.names,
    logger: o.logger,
    maxBatch: o.maxBatch,
    maxWaitMs: o.maxWaitMs,
    handle: (batch) => handleBatch(o.store, batch, o.insert),
  });
}

/** Maps every event of the batch, stores all the rows in one insert, returns the malformed ones. */
export async function handleBatch(store: Store, batch: ConsumedEvent[], insert?: InsertEvents): Promise<BatchOutcome> {
  const rejected: NonNullable<BatchOutcome['rejected']> = [];
  const events: TenantEvent[] = [];
  for (const e of batch) {
    try {
      events.push(...toEvents(e.envelope));
    } catch (err) {
      if (!(err instanceof MalformedEvent)) throw err;
      rejected.push({ event: e, reason: err.message });
    }
  }
  if (events.length) await storeEvents(store, events, insert);
  return { rejected };
}

function toEvents(env: commonV1.EventEnvelope): TenantEvent[] {
  const handler = HANDLERS[env.eventType];
  if (!handler && NOT_OURS.has(env.eventType)) return [];
  if (!handler) throw new MalformedEvent(`unknown event type ${JSON.stringify(env.eventType.slice(0, 200))}`);
  if (!isUuid(env.tenantId)) throw new MalformedEvent(`envelope tenant_id is not a UUID: ${JSON.stringify(env.tenantId.slice(0, 64))}`);
  const eventId = isUuid(env.eventId) ? env.eventId.toLowerCase() : undefined;
  if (!eventId) throw new MalformedEvent(`envelope event_id is not a UUID: ${JSON.stringify(env.eventId.slice(0, 64))}`);
  return handler.decode(env.tenantId.toLowerCase(), env.payload, env.occurredAt, eventId);
}

function decode<T>(type: { decode(input: Uint8Array): T }, payload: Uint8Array): T {
  try {
    return type.decode(payload);
  } catch (err) {
    throw new MalformedEvent(`undecodable payload: ${(err as Error).message}`);
  }
}
