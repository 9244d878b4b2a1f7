import { PenguinMailsError, backoffMs, type CallOptions, type PenguinMails, type RetryPolicy } from '@penguinmails/sdk';

/** Failures that say nothing about the row: the service was away, slow or busy. */
const RETRYABLE = new Set(['UNAVAILABLE', 'DEADLINE_EXCEEDED', 'RESOURCE_EXHAUSTED', 'ABORTED']);
const TIERS = new Set(['metadata', 'content', 'analytics']);

/**
 * The waits, in the SDK's own RetryPolicy terms: 8 attempts in all, 0.5 s doubling to 30 s
 * (~2 minutes of trouble). Drawn in the upper half of each cap (the SDK draws in all of it):
 * a tier that is down is not asked again at once.
 */
export const PATIENT_POLICY: Readonly<RetryPolicy> = Object.freeze({ maxAttempts: 8, initialBackoffMs: 500, maxBackoffMs: 30_000, multiplier: 2 });
const upperHalf = () => 0.5 + Math.random() / 2;

export interface Patience {
  policy?: Partial<RetryPolicy>;
  /** Deadline of each attempt (default 120 s: a batch of 500 bodies on a loaded machine took > 10 s, the SDK's default). */
  deadlineMs?: number;
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
  const policy: RetryPolicy = { ...PATIENT_POLICY, ...p.policy };
  const deadlineMs = p.deadlineMs ?? 120_000;
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
              if (!(err instanceof PenguinMailsError) || !RETRYABLE.has(err.codeName) || attempt >= policy.maxAttempts) throw err;
              const wait = backoffMs(attempt, policy, upperHalf);
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
