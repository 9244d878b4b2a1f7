import { UnavailableError } from '@penguinmails/service-kit';
import type { Store } from '../db/client';
import { queryNewestEvent } from '../db/query-newest-event';

/** What GetFreshness reads of the consumer (the kit's EventConsumer has exactly this). */
export interface ConsumerStatus {
  lag(): Promise<{ pending: number; lagSeconds: number }>;
  readonly stats: { deadLettered: number; lastBatchAt: Date | undefined };
}

export interface Freshness {
  pending: number;
  lagSeconds: number;
  lastBatchAt?: Date;
  deadLettered: number;
  tenantNewest?: Date;
  /** Accepted IngestEvents batches not stored yet, and the oldest one's age. */
  acceptedPending: number;
  acceptedLagSeconds: number;
}

/**
 * How far behind the metadata stream the tables are (the platform's consumer: the same for
 * every tenant) and the tenant's newest stored event. Without a consumer (a process that does
 * not consume, as in some tests) nothing is pending. NATS not answering is UNAVAILABLE.
 */
export async function freshness(store: Store, consumer: ConsumerStatus | undefined, tenantId: string, acceptedConsumer?: ConsumerStatus): Promise<Freshness> {
  const lagOf = (c: ConsumerStatus | undefined) =>
    c
      ? c.lag().catch((err: Error) => {
          throw new UnavailableError(`the event stream does not answer (${err.message}); try again`, { cause: err });
        })
      : { pending: 0, lagSeconds: 0 };
  const [lag, accepted, tenantNewest] = await Promise.all([lagOf(consumer), lagOf(acceptedConsumer), queryNewestEvent(store, tenantId)]);
  return {
    pending: lag.pending,
    lagSeconds: lag.lagSeconds,
    lastBatchAt: consumer?.stats.lastBatchAt,
    deadLettered: consumer?.stats.deadLettered ?? 0,
    tenantNewest,
    acceptedPending: accepted.pending,
    acceptedLagSeconds: accepted.lagSeconds,
  };
}
