import { createHash } from 'node:crypto';
import { jetstream, type JetStreamClient } from '@nats-io/jetstream';
import { analyticsV1, commonV1 } from '@penguinmails/contracts';
import {
  EventConsumer,
  FailedPreconditionError,
  InvalidArgumentError,
  UnavailableError,
  Validator,
  ensureConsumer,
  ensureStream,
  isUuid,
  type BatchOutcome,
  type ConsumedEvent,
  type EventNames,
  type NatsConnection,
} from '@penguinmails/service-kit';
import type { Logger } from 'pino';
import type { Store } from '../db/client';
import type { IngestLimits } from '../deps';
import { storeEvents, type TenantEvent } from '../domain/events';
import { ingestBatch } from '../rpc/validate';

// IngestEvents with durability ACCEPTED: the call is answered once the validated batch is in
// JetStream, and this tier's own durable consumer stores the batches, many calls per insert.
//
// Why: a STORED call waits for its insert, so a caller's throughput is bounded by the inserts
// its calls in flight make (4 calls of 1,000 in flight: inserts of at most 4,000 rows, however
// the writer coalesces them), and chDB's cost is per insert as much as per row (bench/README.md,
// "Analytics"). Here the insert size is the consumer's batch (ANALYTICS_ACCEPTED_MAX_BATCH
// calls), whatever the callers' concurrency. The stream is the tier's own (PM_ANALYTICS), so
// the metadata stream's consumer and its freshness are not mixed with callers' batches.
// Exactly once in the counts, not in delivery: a batch redelivered after a crash between the
// insert and the ack is written again, and the writer (domain/event-writer.ts) stores only ids
// it does not have — the same rule that makes a retried STORED call harmless.

export const ACCEPTED_INGEST_CONSUMER = 'analytics-accepted-ingest';
const EVENT_TYPE = 'penguinmails.analytics.v1.IngestEventsRequest';
const SUFFIX = 'ingest_batch';

export interface StreamSettings {
  EVENTS_DUPLICATE_WINDOW_MS: number;
  EVENTS_MAX_AGE_MS?: number;
  EVENTS_MAX_BYTES?: number;
}

/** Declares PM_ANALYTICS (idempotent, every replica at every start) and the durable consumer of its ingest batches. */
export async function declareAcceptedIngest(nc: NatsConnection, names: EventNames, s: StreamSettings, o: { maxBatch: number; ackWaitMs?: number }): Promise<void> {
  await ensureStream(nc, {
    name: names.stream('analytics'),
    subjects: [names.tierSubjects('analytics')],
    duplicateWindowMs: s.EVENTS_DUPLICATE_WINDOW_MS,
    maxAgeMs: s.EVENTS_MAX_AGE_MS,
    maxBytes: s.EVENTS_MAX_BYTES,
  });
  await ensureConsumer(nc, names.stream('analytics'), {
    durable: ACCEPTED_INGEST_CONSUMER,
    filterSubjects: [names.eventFilter('analytics', SUFFIX)],
    ackWaitMs: o.ackWaitMs,
    // A whole batch is in flight at once.
    max_ack_pending: Math.max(1_000, o.maxBatch * 2),
  });
}

/** What the IngestEvents handler needs to accept a batch (absent where the service runs without NATS). */
export interface AcceptedPublisher {
  publish(tenantId: string, events: analyticsV1.EmailEvent[]): Promise<void>;
}

/**
 * Publishes a validated batch as one message: an EventEnvelope whose payload is the encoded
 * IngestEventsRequest (the events as the caller sent them). The message id is a hash of the
 * tenant and the encoded events, so a call retried within the stream's duplicate window
 * (EVENTS_DUPLICATE_WINDOW_MS) is one message; later repeats are harmless (see above).
 */
export class JetStreamAcceptedPublisher implements AcceptedPublisher {
  private readonly js: JetStreamClient;

  constructor(
    private readonly nc: NatsConnection,
    private readonly names: EventNames,
    private readonly timeoutMs = 5_000,
  ) {
    this.js = jetstream(nc);
  }

  async publish(tenantId: string, events: analyticsV1.EmailEvent[]): Promise<void> {
    const payload = analyticsV1.IngestEventsRequest.encode({ tenantId, events, durability: analyticsV1.IngestDurability.INGEST_DURABILITY_ACCEPTED }).finish();
    const digest = createHash('sha256').update(tenantId).update(payload).digest('base64url');
    const bytes = commonV1.EventEnvelope.encode({
      eventId: uuidFromDigest(digest),
      tenantId,
      eventType: EVENT_TYPE,
      occurredAt: new Date(),
      source: 'analytics',
      payload: Buffer.from(payload.buffer, payload.byteOffset, payload.length),
    }).finish();
    const max = this.nc.info?.max_payload;
    if (max !== undefined && bytes.length > max) {
      throw new InvalidArgumentError([
        {
          field: 'events',
          reason: 'TOO_LARGE',
          description: `the batch is ${bytes.length} bytes encoded, more than the ${max} a message of the event stream may hold (NATS max_payload); send fewer events per ACCEPTED call, or use STORED`,
        },
      ]);
    }
    try {
      await this.js.publish(this.names.subject('analytics', tenantId, SUFFIX), bytes, { msgID: digest, timeout: this.timeoutMs });
    } catch (err) {
      throw new UnavailableError(`the event stream did not acknowledge the batch (${(err as Error).message}); nothing was accepted, send it again or use STORED`, { cause: err });
    }
  }
}

/** A publisher for a process without NATS: every ACCEPTED call is refused, naming the way out. */
export const NO_ACCEPTED_INGEST: AcceptedPublisher = {
  publish: async () => {
    throw new FailedPreconditionError('durability', 'this analytics service runs without an event stream, so it cannot accept batches; use durability STORED');
  },
};

/** A stable event id for the envelope of a batch (its digest's first 16 bytes as a UUID). */
function uuidFromDigest(digest: string): string {
  const h = Buffer.from(digest, 'base64url').subarray(0, 16).toString('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20, 32)}`;
}

/** The consumer of accepted batches (not started: main runs it as background work). */
export function createAcceptedIngestConsumer(o: {
  nc: NatsConnection;
  names: EventNames;
  store: Store;
  logger: Logger;
  limits: IngestLimits;
  /** ANALYTICS_ACCEPTED_MAX_BATCH: most accepted calls stored together. */
  maxBatch: number;
  maxWaitMs: number;
  retryDelayMs?: number;
}): EventConsumer {
  return new EventConsumer({
    nc: o.nc,
    stream: o.names.stream('analytics'),
    durable: ACCEPTED_INGEST_CONSUMER,
    names: o.names,
    logger: o.logger,
    maxBatch: o.maxBatch,
    maxWaitMs: o.maxWaitMs,
    retryDelayMs: o.retryDelayMs,
    handle: (batch) => storeAccepted(o.store, batch, o.limits),
  });
}

/**
 * Stores the events of every accepted call of the batch with one call of the writer (which
 * splits them into inserts of ANALYTICS_WRITE_MAX_ROWS). Each message is validated again as
 * IngestEvents validates a call (the stream is a trust boundary too: anything may publish on a
 * subject); one that fails is dead-lettered with the reason, the rest stored. The "not in the
 * future" bound is taken from the message's publish time, as the call was judged then.
 */
export async function storeAccepted(store: Store, batch: ConsumedEvent[], limits: IngestLimits): Promise<BatchOutcome> {
  const rejected: NonNullable<BatchOutcome['rejected']> = [];
  const events: TenantEvent[] = [];
  for (const e of batch) {
    const env = e.envelope;
    if (env.eventType !== EVENT_TYPE) {
      rejected.push({ event: e, reason: `unexpected event type "${env.eventType.slice(0, 200)}" (expected ${EVENT_TYPE})` });
      continue;
    }
    let req: analyticsV1.IngestEventsRequest;
    try {
      req = analyticsV1.IngestEventsRequest.decode(env.payload);
    } catch (err) {
      rejected.push({ event: e, reason: `undecodable IngestEventsRequest payload: ${(err as Error).message}` });
      continue;
    }
    if (!isUuid(req.tenantId) || req.tenantId.toLowerCase() !== env.tenantId.toLowerCase()) {
      rejected.push({ event: e, reason: 'tenant_id is not a UUID or differs from the envelope tenant_id' });
      continue;
    }
    const v = new Validator();
    const valid = ingestBatch(v, req.events, limits, env.occurredAt ?? new Date());
    if (!v.ok) {
      rejected.push({ event: e, reason: `invalid batch: ${v.violations.map((x) => `${x.field}: ${x.description}`).join('; ').slice(0, 500)}` });
      continue;
    }
    const tenantId = req.tenantId.toLowerCase();
    for (const ev of valid) events.push({ ...ev, tenantId, source: 'ingest' });
  }
  if (events.length) await storeEvents(store, events);
  return { rejected };
}
