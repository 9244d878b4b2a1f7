import { jetstream, jetstreamManager, type Consumer, type JsMsg } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import type { Logger } from 'pino';
import { commonV1 } from '@penguinmails/contracts';
import { decodeEnvelope, type EventNames, type Tier } from '../events';
import { defaultMetrics, type Metrics } from '../metrics';
import { ensureConsumerOnTier, ensureStream, type TierStreamSettings } from './streams';
import { startProcessSpans, tracingEnabled } from '../tracing';

/** One event of a batch: the decoded envelope and the JetStream message it came in. */
export interface ConsumedEvent {
  envelope: commonV1.EventEnvelope;
  msg: JsMsg;
}

/** What a batch handler may say besides "all stored": events it will never be able to handle. */
export interface BatchOutcome {
  /** Events that are malformed for this consumer; they are dead-lettered, the rest acked. */
  rejected?: { event: ConsumedEvent; reason: string }[];
}

export interface EventConsumerOptions {
  nc: NatsConnection;
  stream: string;
  /** An existing durable pull consumer (see ensureConsumer). */
  durable: string;
  names: EventNames;
  logger: Logger;
  /**
   * Handles a batch (1..maxBatch events, in stream order). Must be idempotent: JetStream
   * delivers at least once (an inbox table keyed by event id, or ReplacingMergeTree on it).
   * Resolving acks the batch (after the handler has stored it); throwing naks it for a
   * redelivery after `retryDelayMs`.
   */
  handle: (events: ConsumedEvent[]) => Promise<BatchOutcome | void>;
  /** Most events in one batch (default 500). */
  maxBatch?: number;
  /** Longest a batch waits to fill before it is handled anyway (default 1000 ms). */
  maxWaitMs?: number;
  /** After this many failed deliveries an event is dead-lettered instead of retried (default 10). */
  maxDeliveries?: number;
  retryDelayMs?: number;
  /** Where `pm_consumer_*` gauges are collected on scrape (default: the process's metrics). */
  metrics?: Metrics;
}

/** Figures of a consumer for freshness RPCs, health and metrics. */
export interface ConsumerLag {
  /** Events not yet acknowledged: waiting plus being processed. */
  pending: number;
  /** Age of the oldest unacknowledged event, seconds; 0 when none. */
  lagSeconds: number;
}

/**
 * A durable pull consumer that handles events in batches by size and time, with explicit
 * acks: a batch is acknowledged only after its handler resolved (has stored it), naked for a
 * redelivery when it throws. A message that cannot be decoded, an event the handler rejects,
 * and an event that failed `maxDeliveries` times go to the dead-letter subject
 * `<prefix>.deadletter.<durable>.<tenant>` (stream `<PREFIX>_DEADLETTER`) with the reason and
 * are terminated, so one bad event never blocks the stream behind it.
 *
 * Batches come from `fetch` (at most maxBatch, waiting at most maxWaitMs): nats.js gives size
 * and time batching directly, no timers of our own.
 */
export class EventConsumer {
  private running = false;
  private loop?: Promise<void>;
  private consumer?: Consumer;
  private current?: { stop(): void };
  private unregister?: () => void;
  private count?: { handled(n: number): void; deadLettered(): void };
  /** Counters since start. */
  readonly stats = { batches: 0, events: 0, deadLettered: 0, lastBatchAt: undefined as Date | undefined };

  constructor(private readonly opts: EventConsumerOptions) {}

  async start(): Promise<void> {
    const names = this.opts.names;
    await ensureStream(this.opts.nc, { name: names.deadLetterStream(), subjects: [names.deadLetterSubjects()], duplicateWindowMs: 60_000 });
    this.consumer = await jetstream(this.opts.nc).consumers.get(this.opts.stream, this.opts.durable);
    this.running = true;
    this.loop = this.run();
    this.unregister = this.registerMetrics(this.opts.metrics ?? defaultMetrics());
  }

  /** `pm_consumer_pending` and `pm_consumer_lag_seconds` by stream and durable, from {@link lag} on scrape. */
  private registerMetrics(m: Metrics): () => void {
    const labels = { stream: this.opts.stream, durable: this.opts.durable };
    let last: Promise<ConsumerLag> | undefined;
    let at = 0;
    const read = () => {
      if (!last || Date.now() - at > 1_000) {
        at = Date.now();
        last = this.lag();
        last.catch(() => undefined);
      }
      return last;
    };
    const names = ['stream', 'durable'];
    const a = m.collect('pm_consumer_pending', 'Events of the stream not yet acknowledged by the durable consumer.', names, async () => [
      { labels, value: (await read()).pending },
    ]);
    const b = m.collect('pm_consumer_lag_seconds', 'Age of the oldest unacknowledged event of the durable consumer, seconds.', names, async () => [
      { labels, value: (await read()).lagSeconds },
    ]);
    const dl = m.counter('pm_consumer_dead_lettered_total', 'Events this process dead-lettered.', names);
    const handled = m.counter('pm_consumer_events_total', 'Events this process handled and acknowledged.', names);
    this.count = { handled: (n) => handled.inc(labels, n), deadLettered: () => dl.inc(labels) };
    const c = m.collect('pm_consumer_last_batch_age_seconds', 'Seconds since this process last handled a batch (absent before the first).', names, () => {
      const t = this.stats.lastBatchAt;
      return t ? [{ labels, value: (Date.now() - t.getTime()) / 1000 }] : [];
    });
    return () => {
      a();
      b();
      c();
    };
  }

  /** Stops pulling; resolves after the batch in hand is handled. */
  async stop(): Promise<void> {
    this.running = false;
    this.unregister?.();
    this.current?.stop();
    await this.loop;
  }

  /** How far behind the stream this consumer is. */
  async lag(): Promise<ConsumerLag> {
    const jsm = await jetstreamManager(this.opts.nc);
    const info = await jsm.consumers.info(this.opts.stream, this.opts.durable);
    const pending = info.num_pending + info.num_ack_pending;
    if (pending === 0) return { pending, lagSeconds: 0 };
    try {
      const oldest = await jsm.streams.getMessage(this.opts.stream, { seq: info.ack_floor.stream_seq + 1 });
      return { pending, lagSeconds: oldest ? Math.max(0, (Date.now() - oldest.time.getTime()) / 1000) : 0 };
    } catch {
      return { pending, lagSeconds: 0 };
    }
  }

  private async run(): Promise<void> {
    const maxBatch = this.opts.maxBatch ?? 500;
    const maxWaitMs = Math.max(1_000, this.opts.maxWaitMs ?? 1_000);
    let backoff = 0;
    while (this.running) {
      try {
        const messages = await this.consumer!.fetch({ max_messages: maxBatch, expires: maxWaitMs });
        this.current = messages;
        const batch: ConsumedEvent[] = [];
        for await (const msg of messages) {
          try {
            batch.push({ envelope: decodeEnvelope(msg.data), msg });
          } catch (err) {
            await this.deadLetter(msg, `undecodable envelope: ${(err as Error).message}`);
          }
        }
        this.current = undefined;
        if (batch.length) await this.handle(batch);
        backoff = 0;
      } catch (err) {
        // The connection or the consumer is gone for now (a NATS restart): wait and pull again.
        backoff = Math.min(5_000, backoff ? backoff * 2 : 250);
        this.opts.logger.warn({ err: (err as Error).message, retryInMs: backoff, durable: this.opts.durable }, 'event consumer: pull failed');
        if (this.running) await new Promise((r) => setTimeout(r, backoff));
      }
    }
  }

  private async handle(batch: ConsumedEvent[]): Promise<void> {
    // Tracing on: a CONSUMER span per event, child of the relay's publish span (the
    // `traceparent` header), so the handling joins the trace of the request that wrote it.
    const spans = tracingEnabled()
      ? startProcessSpans(
          batch.map((e) => ({ subject: e.msg.subject, headers: e.msg.headers, eventId: e.envelope.eventId, eventType: e.envelope.eventType })),
          { stream: this.opts.stream, durable: this.opts.durable },
        )
      : undefined;
    let outcome: BatchOutcome | void;
    try {
      outcome = spans ? await spans.run(() => this.opts.handle(batch)) : await this.opts.handle(batch);
    } catch (err) {
      spans?.end(err);
      const reason = (err as Error).message;
      const maxDeliveries = this.opts.maxDeliveries ?? 10;
      this.opts.logger.warn({ events: batch.length, err: reason, durable: this.opts.durable, ...spans?.logFields() }, 'event batch failed; will be redelivered');
      for (const e of batch) {
        if (e.msg.info.deliveryCount >= maxDeliveries) await this.deadLetter(e.msg, `failed ${e.msg.info.deliveryCount} times: ${reason}`, e.envelope.tenantId);
        else e.msg.nak(this.opts.retryDelayMs ?? 1_000);
      }
      return;
    }
    const rejected = new Map((outcome?.rejected ?? []).map((r) => [r.event.msg, r.reason]));
    for (const e of batch) {
      const reason = rejected.get(e.msg);
      if (reason !== undefined) await this.deadLetter(e.msg, reason, e.envelope.tenantId);
      else e.msg.ack();
    }
    spans?.end();
    this.stats.batches++;
    this.stats.events += batch.length - rejected.size;
    this.count?.handled(batch.length - rejected.size);
    this.stats.lastBatchAt = new Date();
  }

  private async deadLetter(msg: JsMsg, reason: string, tenantId?: string): Promise<void> {
    const names = this.opts.names;
    const letter: commonV1.DeadLetter = {
      consumer: this.opts.durable,
      subject: msg.subject,
      streamSequence: BigInt(msg.seq),
      reason: reason.slice(0, 1_000),
      failedAt: new Date(),
      data: Buffer.from(msg.data),
      deliveries: BigInt(msg.info.deliveryCount),
    };
    const tenant = tenantId && /^[0-9a-f-]{36}$/i.test(tenantId) ? tenantId : '_';
    try {
      await jetstream(this.opts.nc).publish(names.deadLetterSubject(this.opts.durable, tenant), commonV1.DeadLetter.encode(letter).finish(), {
        // The same message dead-lettered twice (a crash before term) is stored once.
        msgID: `${this.opts.stream}:${msg.seq}`,
      });
      msg.term();
      this.stats.deadLettered++;
      this.count?.deadLettered();
      this.opts.logger.error({ subject: msg.subject, seq: msg.seq, reason: letter.reason, durable: this.opts.durable }, 'event dead-lettered');
    } catch (err) {
      // Cannot dead-letter now: leave it for a redelivery rather than lose it.
      this.opts.logger.warn({ err: (err as Error).message, seq: msg.seq }, 'dead-lettering failed; the event will be redelivered');
      msg.nak(this.opts.retryDelayMs ?? 1_000);
    }
  }
}

/** What a service passes to create its consumer: the connection, its names, and the batch settings. */
export type TierConsumerOptions = Pick<EventConsumerOptions, 'nc' | 'names' | 'logger' | 'maxBatch' | 'maxWaitMs' | 'retryDelayMs' | 'metrics'>;

/**
 * One durable consumer of one kind of event on another tier's stream (the queue's campaign
 * holds, the content tier's message refs): `declare` at every start (idempotent: creates the
 * stream with the kit's settings when its owner has not started yet, and the durable consumer
 * filtered on `<prefix>.<tier>.*.<event>`), `create` the EventConsumer that reads it (not
 * started: main runs it as background work). Each service keeps its own parsing and handler.
 */
export function tierEventConsumer(spec: { tier: Tier; event: string; durable: string }): {
  declare(nc: NatsConnection, names: EventNames, s: TierStreamSettings): Promise<void>;
  create(opts: TierConsumerOptions, handle: EventConsumerOptions['handle']): EventConsumer;
} {
  return {
    declare: (nc, names, s) =>
      ensureConsumerOnTier(nc, names, spec.tier, s, { durable: spec.durable, filterSubjects: [names.eventFilter(spec.tier, spec.event)] }),
    // Only the EventConsumer's own options: a service's extra ones (its pool) stay with it.
    create: ({ nc, names, logger, maxBatch, maxWaitMs, retryDelayMs, metrics }, handle) =>
      new EventConsumer({ nc, names, logger, maxBatch, maxWaitMs, retryDelayMs, metrics, stream: names.stream(spec.tier), durable: spec.durable, handle }),
  };
}
