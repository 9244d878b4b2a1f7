import { pruneConsumedEvents, type BackgroundWork, type EventConsumer, type Logger } from '@penguinmails/service-kit';
import type { Pool } from 'pg';

/**
 * An EventConsumer as runService's background work: runService awaits `start()`, and the
 * consumer's start looks the durable consumer up in JetStream, so this starts it in the background and
 * retries with backoff until it runs or is stopped (a NATS blip at start-up must not leave the
 * tier without its consumer). Also forgets consumed_events ids older than the stream's age
 * limit once an hour: such events cannot be redelivered.
 */
export class ConsumerWork implements BackgroundWork {
  private starting?: Promise<void>;
  private stopped = false;
  private wake?: () => void;
  private pruneTimer?: NodeJS.Timeout;

  constructor(
    private readonly consumer: EventConsumer,
    private readonly opts: { pool: Pool; logger: Logger; name: string; consumedEventsMaxAgeMs: number; pruneIntervalMs?: number },
  ) {}

  start(): void {
    this.starting = this.startWithRetry();
    this.pruneTimer = setInterval(() => {
      pruneConsumedEvents(this.opts.pool, this.opts.consumedEventsMaxAgeMs)
        .then((n) => n && this.opts.logger.info({ consumer: this.opts.name, pruned: n }, 'old consumed event ids forgotten'))
        .catch((err: Error) => this.opts.logger.warn({ err: err.message }, 'pruning consumed_events failed; will retry'));
    }, this.opts.pruneIntervalMs ?? 3_600_000);
    this.pruneTimer.unref();
  }

  private async startWithRetry(): Promise<void> {
    let backoff = 250;
    while (!this.stopped) {
      try {
        await this.consumer.start();
        this.opts.logger.info({ consumer: this.opts.name }, 'event consumer started');
        return;
      } catch (err) {
        this.opts.logger.warn({ consumer: this.opts.name, err: (err as Error).message, retryInMs: backoff }, 'event consumer could not start; will retry');
        await new Promise<void>((resolve) => {
          const t = setTimeout(resolve, backoff);
          this.wake = () => {
            clearTimeout(t);
            resolve();
          };
        });
        backoff = Math.min(5_000, backoff * 2);
      }
    }
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.pruneTimer);
    this.wake?.();
    await this.starting;
    await this.consumer.stop();
  }
}
