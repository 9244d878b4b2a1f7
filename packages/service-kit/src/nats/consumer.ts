import { jetstream, type ConsumerMessages, type JsMsg } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import type { Logger } from 'pino';
import { commonV1 } from '@penguinmails/contracts';
import { decodeEnvelope } from '../events';

export interface EventConsumerOptions {
  nc: NatsConnection;
  stream: string;
  /** An existing durable pull consumer (see ensureConsumer). */
  durable: string;
  logger: Logger;
  /**
   * Handles one event. Must be idempotent (an inbox table keyed by event id, or a
   * ReplacingMergeTree): JetStream delivers at least once. Throwing naks the message for a
   * redelivery after `retryDelayMs`.
   */
  handle: (event: commonV1.EventEnvelope, msg: JsMsg) => Promise<void>;
  maxMessages?: number;
  retryDelayMs?: number;
}

/**
 * Pulls events with explicit acks: ack after the handler commits, nak with a delay when it
 * throws. A message that cannot be decoded is terminated (`term`) and logged: redelivering
 * it would fail forever.
 */
export class EventConsumer {
  private messages?: ConsumerMessages;
  private loop?: Promise<void>;

  constructor(private readonly opts: EventConsumerOptions) {}

  async start(): Promise<void> {
    const js = jetstream(this.opts.nc);
    const consumer = await js.consumers.get(this.opts.stream, this.opts.durable);
    this.messages = await consumer.consume({ max_messages: this.opts.maxMessages ?? 256 });
    const messages = this.messages;
    this.loop = (async () => {
      for await (const m of messages) {
        let event: commonV1.EventEnvelope;
        try {
          event = decodeEnvelope(m.data);
        } catch (err) {
          this.opts.logger.error({ subject: m.subject, seq: m.seq, err: (err as Error).message }, 'undecodable event terminated');
          // No reason text: nats-server 2.9 ignores '+TERM <reason>'.
          m.term();
          continue;
        }
        try {
          await this.opts.handle(event, m);
          m.ack();
        } catch (err) {
          this.opts.logger.warn(
            { eventId: event.eventId, eventType: event.eventType, redelivery: m.info.deliveryCount, err: (err as Error).message },
            'event handling failed; will be redelivered',
          );
          m.nak(this.opts.retryDelayMs ?? 1_000);
        }
      }
    })();
  }

  /** Stops pulling; resolves after the message in hand is handled. */
  async stop(): Promise<void> {
    await this.messages?.close();
    await this.loop;
  }
}
