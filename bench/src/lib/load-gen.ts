import { percentile } from './report';

/** What one timed loop saw. */
export interface LoopResult {
  calls: number;
  errors: number;
  seconds: number;
  latencies: number[];
  firstError?: string;
}

/**
 * Closed loop: `concurrency` workers each issue the next call when the previous returns, until
 * `calls` calls were issued or `seconds` passed (both bounds always apply).
 */
export async function closedLoop(concurrency: number, calls: number, seconds: number, fn: (n: number) => Promise<unknown>): Promise<LoopResult> {
  const latencies: number[] = [];
  let next = 0;
  let errors = 0;
  let firstError: string | undefined;
  const started = performance.now();
  const deadline = started + seconds * 1000;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < calls && performance.now() < deadline) {
        const n = next++;
        const s = performance.now();
        try {
          await fn(n);
          latencies.push(performance.now() - s);
        } catch (err) {
          errors++;
          firstError ??= (err as Error).message;
        }
      }
    }),
  );
  return { calls: latencies.length, errors, seconds: (performance.now() - started) / 1000, latencies, firstError };
}

export interface Sample {
  /** When the call was due (performance.now() ms). */
  due: number;
  /**
   * From `due` to the answer: queueing behind a slow call counts (no coordinated omission); so
   * does the timer's lateness (Node timers have 1 ms granularity: ~1 ms on every call).
   */
  ms: number;
  ok: boolean;
}

/**
 * Open loop at a fixed rate: a call is due every 1000/rate ms whatever the previous ones do, at
 * most `maxInFlight` at once (a call over that waits, and its wait counts in its latency).
 * `stop()` ends issuing and waits for the calls in flight.
 */
export class FixedRateLoad {
  readonly samples: Sample[] = [];
  private issued = 0;
  private inFlight = 0;
  private timer?: NodeJS.Timeout;
  private stopped = false;
  private readonly t0 = performance.now();
  private readonly pending = new Set<Promise<void>>();

  constructor(
    private readonly rate: number,
    private readonly maxInFlight: number,
    private readonly fn: (n: number) => Promise<unknown>,
  ) {
    this.tick();
  }

  /** Issues what is due, then sleeps until the next call is due (a timer per call, not a poll). */
  private tick(): void {
    if (this.stopped) return;
    // Call n is due at t0 + n/rate: calls 0..floor(elapsed · rate) are due now.
    const due = Math.floor(((performance.now() - this.t0) * this.rate) / 1000) + 1;
    while (this.issued < due && this.inFlight < this.maxInFlight) {
      const n = this.issued++;
      const dueAt = this.t0 + (n * 1000) / this.rate;
      this.inFlight++;
      const p = this.fn(n).then(
        () => void this.samples.push({ due: dueAt, ms: performance.now() - dueAt, ok: true }),
        () => void this.samples.push({ due: dueAt, ms: performance.now() - dueAt, ok: false }),
      );
      const tracked = p.finally(() => {
        this.inFlight--;
        this.pending.delete(tracked);
      });
      this.pending.add(tracked);
    }
    // Over maxInFlight: look again in 1 ms; otherwise wake when the next call is due.
    const wait = this.issued < due ? 1 : this.t0 + (this.issued * 1000) / this.rate - performance.now();
    this.timer = setTimeout(() => this.tick(), Math.max(0, wait));
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    await Promise.all([...this.pending]);
  }

  /** Samples whose call was due in [from, to). */
  window(from: number, to: number): { n: number; errors: number; p50: number; p99: number; max: number } {
    const s = this.samples.filter((x) => x.due >= from && x.due < to);
    const ok = s.filter((x) => x.ok).map((x) => x.ms);
    return { n: s.length, errors: s.length - ok.length, p50: percentile(ok, 50), p99: percentile(ok, 99), max: ok.length ? Math.max(...ok) : NaN };
  }
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
