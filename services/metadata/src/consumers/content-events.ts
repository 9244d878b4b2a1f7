import type { NatsConnection } from '@nats-io/transport-node';
import {
  EventConsumer,
  ensureConsumer,
  ensureStream,
  pruneConsumedEvents,
  type BackgroundWork,
  type BatchOutcome,
  type ConsumedEvent,
  type ConsumerLag,
  type EventNames,
  type Logger,
} from '@penguinmails/service-kit';
import type { Pool } from 'pg';
import { applyContentKeyChanges, type ContentKeyChange } from '../domain/content-keys';
import { CONTENT_DELETED, contentDeleted } from './content-deleted';
import { CONTENT_STORED, contentStored } from './content-stored';
import { RejectedEvent } from './rejected';

/** The durable consumer's name on the content stream (and in consumed_events, and dead letters). */
export const CONTENT_EVENTS_DURABLE = 'metadata-content-events';

/**
 * Content events this consumer has nothing to do with (acknowledged, no effect): they change
 * no storage key's state. Any other unknown type is dead-lettered, so a new content event must
 * be listed here (or handled) before the content tier emits it.
 */
const IGNORED = new Set([
  'penguinmails.content.v1.AttachmentAdded',
  'penguinmails.content.v1.ContentExpirySet',
  'penguinmails.content.v1.RetentionPolicyChanged',
  'penguinmails.content.v1.TransactionalEmailQueued',
  'penguinmails.content.v1.TransactionalEmailStatusChanged',
  'penguinmails.content.v1.NotificationCreated',
  'penguinmails.content.v1.NotificationRead',
]);

const HANDLERS: Record<string, (env: ConsumedEvent['envelope']) => ContentKeyChange> = {
  [CONTENT_STORED]: contentStored,
  [CONTENT_DELETED]: contentDeleted,
};

export interface ContentEventsOptions {
  nc: NatsConnection;
  names: EventNames;
  pool: Pool;
  logger: Logger;
  /** The content stream's settings, the same as the content tier declares it with (EVENTS_*). */
  stream: { duplicateWindowMs: number; maxAgeMs?: number; maxBytes?: number };
  durable?: string;
  maxBatch?: number;
  maxWaitMs?: number;
  maxDeliveries?: number;
  retryDelayMs?: number;
  /** How often handled event ids older than the stream's age limit are forgotten (default 1 h). */
  pruneEveryMs?: number;
}

/**
 * Metadata's consumer of the content tier's events: ContentStored and ContentDeleted set the
 * content_state of the refs naming the key (domain/content-keys.ts). Background work of main.ts.
 *
 * One filter, `<prefix>.content.>`: nats-server 2.9 has no multi-subject filters, so the
 * other content events (IGNORED) come too and are acknowledged without effect. An event that cannot
 * be applied (an unknown type, a malformed payload, a key of another tenant) is rejected:
 * the kit's EventConsumer dead-letters it and the batch's other events are applied.
 */
export class ContentEventsConsumer implements BackgroundWork {
  private consumer?: EventConsumer;
  private pruneTimer?: NodeJS.Timeout;
  readonly durable: string;

  constructor(private readonly opts: ContentEventsOptions) {
    this.durable = opts.durable ?? CONTENT_EVENTS_DURABLE;
  }

  /** Declares the content stream (idempotent, as the content tier does) and the durable consumer, then pulls. */
  async start(): Promise<void> {
    const { nc, names, stream } = this.opts;
    const streamName = names.stream('content');
    await ensureStream(nc, { name: streamName, subjects: [names.tierSubjects('content')], ...stream });
    await ensureConsumer(nc, streamName, { durable: this.durable, filterSubjects: [names.tierSubjects('content')], ackWaitMs: 30_000 });
    this.consumer = new EventConsumer({
      nc,
      stream: streamName,
      durable: this.durable,
      names,
      logger: this.opts.logger,
      handle: (batch) => this.handle(batch),
      maxBatch: this.opts.maxBatch,
      maxWaitMs: this.opts.maxWaitMs,
      maxDeliveries: this.opts.maxDeliveries,
      retryDelayMs: this.opts.retryDelayMs,
    });
    await this.consumer.start();
    const keepMs = stream.maxAgeMs ?? 7 * 24 * 3600_000;
    this.pruneTimer = setInterval(() => {
      pruneConsumedEvents(this.opts.pool, keepMs).catch((err: Error) => this.opts.logger.warn({ err: err.message }, 'pruning consumed_events failed'));
    }, this.opts.pruneEveryMs ?? 3600_000);
    this.pruneTimer.unref();
  }

  async stop(): Promise<void> {
    if (this.pruneTimer) clearInterval(this.pruneTimer);
    await this.consumer?.stop();
  }

  /** Events waiting and the age of the oldest. */
  lag(): Promise<ConsumerLag> {
    if (!this.consumer) return Promise.resolve({ pending: 0, lagSeconds: 0 });
    return this.consumer.lag();
  }

  get stats() {
    return this.consumer?.stats;
  }

  /** One batch: decode each event, reject the malformed, apply the rest in one transaction. */
  private async handle(batch: ConsumedEvent[]): Promise<BatchOutcome> {
    const changes: ContentKeyChange[] = [];
    const rejected: NonNullable<BatchOutcome['rejected']> = [];
    for (const event of batch) {
      const type = event.envelope.eventType;
      if (IGNORED.has(type)) continue;
      const decode = HANDLERS[type];
      if (!decode) {
        rejected.push({ event, reason: `unknown event type ${JSON.stringify(type.slice(0, 200))}` });
        continue;
      }
      try {
        changes.push(decode(event.envelope));
      } catch (err) {
        const reason = err instanceof RejectedEvent ? err.message : `undecodable ${type}: ${(err as Error).message}`;
        rejected.push({ event, reason });
      }
    }
    const res = await applyContentKeyChanges(this.opts.pool, this.durable, changes);
    if (res.applied) this.opts.logger.debug({ events: res.applied, refs: res.refs }, 'content events applied');
    return { rejected };
  }
}
