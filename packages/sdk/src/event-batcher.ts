import { randomUUID } from 'node:crypto';
import { status as grpcStatus } from '@grpc/grpc-js';
import { analyticsV1 } from '@penguinmails/contracts';
import type { AnalyticsApi, DeepPartial } from './client';
import { PenguinMailsError, type FieldViolation } from './errors';

export interface EventBatcherOptions {
  /** Events per IngestEvents call, at most; default 1000 (the analytics service's maximum per call). */
  maxBatch?: number;
  /** How long the first event of a batch waits for others before the call goes; default 20 ms. */
  maxDelayMs?: number;
  /** IngestEvents calls in flight at once; default 2. */
  inFlight?: number;
  /** IngestEvents `durability`; default STORED (each call answered once its events are stored). */
  durability?: analyticsV1.IngestDurability;
}

/**
 * Events of one or many tenants sent as IngestEvents calls of up to `maxBatch` each: what a
 * tracking endpoint (one open or click per HTTP request) needs, since every IngestEvents call
 * is one insert into ClickHouse's 8 tables, whatever its size (bench/README.md, "The SDK's
 * event batcher"). The posthog-node / Segment client shape, with one difference: `track`
 * resolves only once the call that carried the event was answered, so a caller that awaits it
 * knows the event is stored (or accepted, with ACCEPTED durability) — a process that dies with
 * events in the batcher loses only events whose `track` had not resolved.
 */
export interface EventBatcher {
  /**
   * Adds one event of `tenantId` to the next call. Resolves when that call is answered; rejects
   * with its error. An event without `eventId` gets a random UUID first (so the SDK's retries,
   * and a caller's resend of the same object, store it once). An event the service refuses
   * (INVALID_ARGUMENT naming it) rejects alone, with its field paths as `event.<field>`; the
   * other events of its call are sent again without it.
   */
  track(tenantId: string, event: DeepPartial<analyticsV1.EmailEvent>): Promise<void>;
  /** Sends every event added so far now and resolves when all their calls are answered (rejections stay with `track`). */
  flush(): Promise<void>;
  /** flush(), then refuses further `track` calls. */
  close(): Promise<void>;
  /** Events added and not answered yet. */
  readonly pending: number;
}

interface Item {
  event: DeepPartial<analyticsV1.EmailEvent>;
  resolve: () => void;
  reject: (err: unknown) => void;
}

/** Starts an {@link EventBatcher} over an analytics client (e.g. `pm.analytics`). */
export function createEventBatcher(analytics: Pick<AnalyticsApi, 'ingestEvents'>, opts: EventBatcherOptions = {}): EventBatcher {
  const maxBatch = opts.maxBatch ?? 1000;
  const maxDelayMs = opts.maxDelayMs ?? 20;
  const lanes = opts.inFlight ?? 2;
  const durability = opts.durability ?? analyticsV1.IngestDurability.INGEST_DURABILITY_STORED;
  if (!Number.isInteger(maxBatch) || maxBatch < 1) throw new RangeError(`maxBatch must be a whole number ≥ 1, got ${maxBatch}`);
  if (!Number.isInteger(maxDelayMs) || maxDelayMs < 0) throw new RangeError(`maxDelayMs must be a whole number ≥ 0, got ${maxDelayMs}`);
  if (!Number.isInteger(lanes) || lanes < 1) throw new RangeError(`inFlight must be a whole number ≥ 1, got ${lanes}`);

  /** Added, not yet in a call: per tenant, in order. */
  const waiting = new Map<string, Item[]>();
  /** Full or due batches, waiting for a free lane. */
  const ready: { tenantId: string; items: Item[] }[] = [];
  const inCalls = new Set<Promise<void>>();
  let waitingCount = 0;
  let inCallCount = 0;
  let timer: NodeJS.Timeout | undefined;
  let closed = false;

  /** Moves a tenant's waiting events (or every tenant's) into ready batches. */
  function cut(tenantId?: string): void {
    for (const t of tenantId === undefined ? [...waiting.keys()] : [tenantId]) {
      const items = waiting.get(t) ?? [];
      waiting.delete(t);
      waitingCount -= items.length;
      for (let i = 0; i < items.length; i += maxBatch) ready.push({ tenantId: t, items: items.slice(i, i + maxBatch) });
    }
    if (waitingCount === 0) {
      clearTimeout(timer);
      timer = undefined;
    }
    pump();
  }

  function pump(): void {
    while (inCalls.size < lanes && ready.length > 0) {
      const batch = ready.shift()!;
      inCallCount += batch.items.length;
      const call: Promise<void> = send(batch.tenantId, batch.items).finally(() => {
        inCallCount -= batch.items.length;
        inCalls.delete(call);
        pump();
      });
      inCalls.add(call);
    }
  }

  async function send(tenantId: string, items: Item[], again = false): Promise<void> {
    try {
      await analytics.ingestEvents({ tenantId, events: items.map((i) => i.event), durability });
      for (const i of items) i.resolve();
    } catch (err) {
      // A refused batch names its bad events (`events[3].event_type`): those reject alone and
      // the rest go once more. Anything else (tenant_id, the service down past the retries)
      // is every event's failure.
      const bad = again ? new Map() : refusedEvents(err);
      if (bad.size === 0) {
        for (const i of items) i.reject(err);
        return;
      }
      const rest: Item[] = [];
      items.forEach((item, k) => {
        const violations = bad.get(k);
        if (violations) item.reject(eventError(err as PenguinMailsError, violations));
        else rest.push(item);
      });
      if (rest.length) await send(tenantId, rest, true);
    }
  }

  function track(tenantId: string, event: DeepPartial<analyticsV1.EmailEvent>): Promise<void> {
    if (closed) return Promise.reject(new Error('the event batcher is closed'));
    const withId = event.eventId ? event : Object.assign(event, { eventId: randomUUID() });
    return new Promise<void>((resolve, reject) => {
      const list = waiting.get(tenantId) ?? [];
      list.push({ event: withId, resolve, reject });
      waiting.set(tenantId, list);
      waitingCount += 1;
      if (list.length >= maxBatch) cut(tenantId);
      else timer ??= setTimeout(() => cut(), maxDelayMs);
    });
  }

  async function flush(): Promise<void> {
    cut();
    while (inCalls.size > 0 || ready.length > 0) await Promise.allSettled([...inCalls]);
  }

  return {
    track,
    flush,
    async close() {
      closed = true;
      await flush();
    },
    get pending() {
      return waitingCount + inCallCount + ready.reduce((n, b) => n + b.items.length, 0);
    },
  };
}

/** INVALID_ARGUMENT's violations by event index (`events[3].…`); empty when it names no event. */
function refusedEvents(err: unknown): Map<number, FieldViolation[]> {
  const out = new Map<number, FieldViolation[]>();
  if (!(err instanceof PenguinMailsError) || err.code !== grpcStatus.INVALID_ARGUMENT) return out;
  for (const v of err.fieldViolations) {
    const m = /^events\[(\d+)\](.*)$/.exec(v.field);
    if (!m) return new Map(); // a violation of the request as a whole: no event is to blame alone
    const k = Number(m[1]);
    out.set(k, [...(out.get(k) ?? []), { ...v, field: `event${m[2]}` }]);
  }
  return out;
}

function eventError(err: PenguinMailsError, violations: FieldViolation[]): PenguinMailsError {
  return new PenguinMailsError({
    code: err.code,
    message: violations.map((v) => `${v.field}: ${v.description}`).join('; '),
    rpc: err.rpc,
    attempts: err.attempts,
    fieldViolations: violations,
    reason: err.reason,
    domain: err.domain,
    requestId: err.requestId,
    cause: err,
  });
}
