/**
 * At most N claim statements of one tenant's queue at a time in this process; the rest wait
 * here, in order, for a free slot (CLAIM_CONCURRENCY, README "Settings").
 *
 * Why: concurrent claims of the same queue contend in PostgreSQL — each `for update skip locked`
 * scan walks past the rows the others hold, and N backends take turns on the machine's cores.
 * Let through two at a time, 16 workers claiming 468 jobs each processed 21,000-22,700 jobs/s
 * instead of 10,000-11,600 (2x), 4 workers of 1000 +0-15 % (bench/README.md, "Claims of one queue
 * two at a time"). Only the statement waits: a long-polling claimer holds no slot while it waits for work.
 *
 * Hand-written, not p-limit: p-limit is ESM-only (this package builds CommonJS) and one limiter
 * per key, created and dropped as keys come and go, is the whole of what is needed here.
 */
export class ClaimGates {
  private readonly gates = new Map<string, { active: number; waiting: (() => void)[] }>();

  /** limit 0 = no gate. */
  constructor(private readonly limit: number) {}

  /** Resolves with the release function once a slot of `key` is free; call it exactly once. */
  async acquire(key: string): Promise<() => void> {
    if (this.limit <= 0) return () => {};
    let g = this.gates.get(key);
    if (!g) this.gates.set(key, (g = { active: 0, waiting: [] }));
    const gate = g;
    // A slot is handed from the releaser to the next waiter directly (active stays the same).
    if (gate.active >= this.limit) await new Promise<void>((resolve) => gate.waiting.push(resolve));
    else gate.active++;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const next = gate.waiting.shift();
      if (next) next();
      else if (--gate.active === 0) this.gates.delete(key);
    };
  }

  /** Keys with a claim running or waiting (for tests). */
  get size(): number {
    return this.gates.size;
  }
}
