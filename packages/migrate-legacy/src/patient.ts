import { PenguinMailsError, type CallOptions, type PenguinMails } from '@penguinmails/sdk';

/** Failures that say nothing about the row: the service was away, slow or busy. */
const RETRYABLE = new Set(['UNAVAILABLE', 'DEADLINE_EXCEEDED', 'RESOURCE_EXHAUSTED', 'ABORTED']);
const TIERS = new Set(['metadata', 'content', 'analytics']);

export interface Patience {
  /** Attempts per call in all (default 8: with the backoff below, ~2 minutes of trouble). */
  attempts?: number;
  /** Deadline of each attempt (default 120 s: a batch of 500 bodies on a loaded machine took > 10 s, the SDK's default). */
  deadlineMs?: number;
  /** First wait; doubled per attempt, at most 30 s, with jitter (default 500 ms). */
  baseDelayMs?: number;
  onRetry?: (call: string, attempt: number, err: PenguinMailsError, waitMs: number) => void;
}

/**
 * The SDK client the batch code writes through: every call of the three tiers gets a long
 * deadline and is repeated on UNAVAILABLE, DEADLINE_EXCEEDED, RESOURCE_EXHAUSTED or ABORTED.
 * That is safe here, and not in the SDK's general policy, because every write of a batch is
 * idempotent (bodies by key, refs by client_key, events by id, attachments by id): a redone
 * batch after a kill relies on exactly that. The SDK's own retry stays as it is (it stops at its
 * deadline and never repeats DEADLINE_EXCEEDED, since in general the outcome is unknown).
 * Before this, one slow BatchPutContent (11.4 s against the SDK's 10 s, load average 30) ended a
 * 1M-row run after 220,000 rows. (~30 lines here instead of p-retry: ESM-only, like p-limit.)
 * Not for migrateReferences: CreateEmailAccount and friends are not idempotent.
 */
export function patient(pm: PenguinMails, p: Patience = {}): PenguinMails {
  const attempts = p.attempts ?? 8;
  const deadlineMs = p.deadlineMs ?? 120_000;
  const base = p.baseDelayMs ?? 500;
  const wrap = (tier: string, client: object) =>
    new Proxy(client, {
      get(target, name, receiver) {
        const f = Reflect.get(target, name, receiver) as unknown;
        if (typeof f !== 'function') return f;
        return async (request: unknown, options: CallOptions = {}) => {
          for (let attempt = 1; ; attempt++) {
            try {
              return await (f as (r: unknown, o: CallOptions) => Promise<unknown>).call(target, request, { deadlineMs, ...options });
            } catch (err) {
              if (!(err instanceof PenguinMailsError) || !RETRYABLE.has(err.codeName) || attempt >= attempts) throw err;
              const wait = Math.round(Math.min(30_000, base * 2 ** (attempt - 1)) * (0.5 + Math.random() / 2));
              p.onRetry?.(`${tier}.${String(name)}`, attempt, err, wait);
              await new Promise((r) => setTimeout(r, wait));
            }
          }
        };
      },
    });
  const wrapped = new Map<string, object>();
  return new Proxy(pm, {
    get(target, name, receiver) {
      const v = Reflect.get(target, name, receiver) as unknown;
      if (typeof name !== 'string' || !TIERS.has(name) || typeof v !== 'object' || v === null) return v;
      if (!wrapped.has(name)) wrapped.set(name, wrap(name, v));
      return wrapped.get(name);
    },
  });
}
