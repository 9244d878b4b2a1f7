import type { Pool } from 'pg';
import { currentCall, remainingMs, type BackgroundWork, type Logger } from '@penguinmails/service-kit';
import { listenRunnableJobs } from '../db/listen-runnable-jobs';

/** What a waiting claimer waits for: `<tenant_id> <queue>`, or `* <queue>` for a claim across tenants. */
export const wakeKey = (tenantId: string | undefined, queue: string): string => `${tenantId ?? '*'} ${queue}`;
/** What a waiting CheckLeases waits for: the end of the job's running attempt by a cancel or a lease taken back (no space: never a claimer's key). */
export const leaseKey = (jobId: string): string => `lease:${jobId.toLowerCase()}`;

export interface Subscription {
  /** Resolves at the first notification for the key after subscribe() (never rejects). */
  fired: Promise<void>;
  cancel(): void;
}

/**
 * Wakes long-polling ClaimJobs calls (wait_ms) the moment jobs of their queue are enqueued:
 * ONE `LISTEN pm_queue_jobs` connection per process (db/listen-runnable-jobs.ts), fanned out
 * in-process to every waiter of the notified `<tenant> <queue>` (and of `* <queue>`, the
 * platform workers). A claimer subscribes BEFORE it claims, so a notification that arrives
 * between its empty claim and its wait is not lost. Every waiter of the key is woken (they all
 * try to claim; `skip locked` splits the jobs, the ones that got none wait again).
 *
 * The same connection hears `pm_queue_lease_ended` (a running attempt cancelled, or its lease
 * taken back): a CheckLeases call waiting on that job (key leaseKey(job id)) is woken the same way.
 *
 * Notifications are lost while the connection is down (it is re-opened every `retryMs`), and
 * jobs also become runnable by time alone (retries, run_at in the future): waiters therefore
 * re-claim (or re-check) every `CLAIM_WAIT_POLL_MS` as well. Polling is the fallback, not the mechanism.
 */
export class RunnableWakeups implements BackgroundWork {
  private readonly waiters = new Map<string, Set<() => void>>();
  private unlisten?: () => Promise<void>;
  private running = false;
  private retry?: NodeJS.Timeout;
  /** Whether LISTEN is in place (a waiter relies on polling alone while it is not). */
  listening = false;

  constructor(
    private readonly pool: Pool,
    private readonly logger: Logger,
    private readonly retryMs = 1000,
  ) {}

  start(): void {
    if (this.running) return;
    this.running = true;
    void this.connect();
  }

  /** Resolves once LISTEN is in place (tests and the bench wait for it before measuring). */
  async started(): Promise<void> {
    this.start();
    for (let i = 0; i < 200 && !this.listening; i++) await new Promise((r) => setTimeout(r, 25));
  }

  async stop(): Promise<void> {
    this.running = false;
    clearTimeout(this.retry);
    const unlisten = this.unlisten;
    this.unlisten = undefined;
    this.listening = false;
    await unlisten?.();
    // Waiting calls answer now (with whatever their next claim finds) instead of holding shutdown.
    for (const key of [...this.waiters.keys()]) this.fire(key);
  }

  subscribe(key: string): Subscription {
    let resolve!: () => void;
    const fired = new Promise<void>((r) => (resolve = r));
    let set = this.waiters.get(key);
    if (!set) this.waiters.set(key, (set = new Set()));
    set.add(resolve);
    return {
      fired,
      cancel: () => {
        const s = this.waiters.get(key);
        if (!s) return;
        s.delete(resolve);
        if (s.size === 0) this.waiters.delete(key);
      },
    };
  }

  /**
   * Wakes the waiters of (tenant, queue) in this process; the NOTIFY handler calls it. Tenant
   * '*' (a platform-wide group limit changed) wakes the queue's waiters of every tenant.
   */
  notify(tenantId: string, queue: string): void {
    if (tenantId === '*') {
      for (const key of [...this.waiters.keys()]) if (key.includes(' ') && key.slice(key.indexOf(' ') + 1) === queue) this.fire(key);
      return;
    }
    this.fire(wakeKey(tenantId, queue));
    this.fire(wakeKey(undefined, queue));
  }

  private fire(key: string): void {
    const set = this.waiters.get(key);
    if (!set) return;
    this.waiters.delete(key);
    for (const resolve of set) resolve();
  }

  private async connect(): Promise<void> {
    if (!this.running) return;
    try {
      this.unlisten = await listenRunnableJobs(
        this.pool,
        (tenantId, queue) => this.notify(tenantId, queue),
        (err) => {
          this.listening = false;
          this.unlisten = undefined;
          this.logger.warn({ err: err.message }, 'queue: LISTEN connection lost; waiting claimers poll until it is back');
          this.schedule();
        },
        (jobId) => this.fire(leaseKey(jobId)),
      );
      this.listening = true;
      if (!this.running) await this.stop();
    } catch (err) {
      this.logger.warn({ err: (err as Error).message }, 'queue: LISTEN failed; retrying');
      this.schedule();
    }
  }

  private schedule(): void {
    if (!this.running) return;
    clearTimeout(this.retry);
    this.retry = setTimeout(() => void this.connect(), this.retryMs);
    this.retry.unref();
  }
}

/**
 * A long poll, ClaimJobs' and CheckLeases' `wait_ms`: runs `attempt` now, and again each time one
 * of `keys` is notified (RunnableWakeups) or `pollMs` passed, until `done(result)`, until
 * `waitMs` passed — never past the call's deadline, less 250 ms: an answer after it is lost (a
 * claim's leases with it) — or until the call is cancelled; answers the last result. It
 * subscribes before each attempt, so a notification that lands between an attempt and the wait
 * is not missed. Nothing is held while it waits (no transaction, no connection).
 */
export async function longPoll<T>(
  wakeups: RunnableWakeups | undefined,
  o: { waitMs: number; pollMs: number; keys: readonly string[] },
  attempt: () => Promise<T>,
  done: (result: T) => boolean,
): Promise<T> {
  const left = remainingMs();
  const until = Date.now() + Math.max(0, Math.min(o.waitMs, left === undefined ? Infinity : left - 250));
  const signal = currentCall()?.signal;
  for (;;) {
    const subs = until > Date.now() && wakeups ? o.keys.map((k) => wakeups.subscribe(k)) : [];
    try {
      const result = await attempt();
      const wait = until - Date.now();
      if (done(result) || wait <= 0 || signal?.aborted) return result;
      const fired = subs.length > 1 ? Promise.race(subs.map((sub) => sub.fired)) : subs[0]?.fired;
      await wakeOrTimeout(fired, Math.min(wait, o.pollMs), signal);
    } finally {
      for (const sub of subs) sub.cancel();
    }
  }
}

/** Resolves when `fired` does, after `ms`, or when `signal` aborts, whichever is first (never rejects). */
function wakeOrTimeout(fired: Promise<void> | undefined, ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise<void>((resolve) => {
    const done = () => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal?.addEventListener('abort', done, { once: true });
    void fired?.then(done);
  });
}
