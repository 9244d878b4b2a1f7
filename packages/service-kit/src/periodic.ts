import type { Logger } from 'pino';
import type { BackgroundWork } from './service';

/**
 * Background work that runs `run()` every `intervalMs` (after the previous run finished, so
 * runs never overlap), logs what it did and any failure, and stops after the run in hand.
 * The sweepers of every tier (retention, orphans, finished jobs) are this with their own `run`.
 */
export abstract class PeriodicTask implements BackgroundWork {
  private timer?: NodeJS.Timeout;
  private running?: Promise<void>;
  protected stopped = false;

  constructor(
    private readonly periodic: {
      logger?: Logger;
      /** ≤ 0: never runs on its own (tests call `run()` directly). */
      intervalMs: number;
      /** What a run did, for the log line: e.g. "retention: expired content deleted". */
      doneMessage: string;
      failedMessage: string;
    },
  ) {}

  /** One run; resolves with how many things it did (0: nothing logged). */
  abstract run(): Promise<number>;

  /** False to stay idle (a setting disabled it). */
  protected enabled(): boolean {
    return this.periodic.intervalMs > 0;
  }

  start(): void {
    if (!this.enabled()) return;
    const tick = () => {
      this.running = this.run()
        .then((n) => {
          if (n) this.periodic.logger?.info({ done: n }, this.periodic.doneMessage);
        })
        .catch((err: Error) => this.periodic.logger?.warn({ err: err.message }, this.periodic.failedMessage))
        .finally(() => {
          if (!this.stopped) this.timer = setTimeout(tick, this.periodic.intervalMs);
        });
    };
    this.timer = setTimeout(tick, this.periodic.intervalMs);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.running;
  }
}
