/**
 * Delay before retry number `attempt` (the attempt that just failed, 1-based):
 * base · 2^(attempt−1), capped at `maxMs`, plus up to 10 % jitter so jobs that failed together
 * (a provider outage) do not all come back in the same second. With the defaults (1 s base,
 * 1 h cap) five attempts wait about 1, 2, 4, 8 s; the cap is reached at attempt 13.
 */
export function retryDelayMs(attempt: number, opts: { baseMs: number; maxMs: number }, random: () => number = Math.random): number {
  const exp = Math.min(opts.maxMs, opts.baseMs * 2 ** Math.min(Math.max(attempt - 1, 0), 30));
  return Math.round(exp * (1 + 0.1 * random()));
}
