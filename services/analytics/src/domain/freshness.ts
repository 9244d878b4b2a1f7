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
}

/**
 * How far behind the metadata stream the tables are (the platform's consumer: the same for
 * every tenant) and the tenant's newest stored event. Without a consumer (a process that does
 * not consume, as in some tests) nothing is pending. NATS not answering is UNAVAILABLE.
 */
export async function freshness(store: Store, consumer: ConsumerStatus | undefined, tenantId: string): Promise<Freshness> {
  const [lag, tenantNewest] = await Promise.all([
    consumer
      ? consumer.lag().catch((err: Error) => {
          throw new UnavailableError(`the event stream does not answer (${err.message}); try again`, { cause: err });
        })
      : { pending: 0, lagSeconds: 0 },
    queryNewestEvent(store, tenantId),
  ]);
  return {
    pending: lag.pending,
    lagSeconds: lag.lagSeconds,
    lastBatchAt: consumer?.stats.lastBatchAt,
    deadLettered: consumer?.stats.deadLettered ?? 0,
    tenantNewest,
  };
}
