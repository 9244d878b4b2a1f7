import { jetstream, type JetStreamClient } from '@nats-io/jetstream';
import { headers, type NatsConnection } from '@nats-io/transport-node';
import type { Pool, PoolClient } from 'pg';
import type { Logger } from 'pino';
import { defaultMetrics, type Metrics } from '../metrics';
import { withTransaction } from '../pg/pool';
import { endSpan, startPublishSpan, tracingEnabled } from '../tracing';

export interface OutboxRelayOptions {
  pool: Pool;
  nc: NatsConnection;
  logger: Logger;
  /** Rows claimed per transaction. */
  batchSize?: number;
  /** Fallback poll when no NOTIFY arrives (NOTIFY is lost while the relay is disconnected). */
  pollIntervalMs?: number;
  /** Per-publish ack timeout before a retry with the same msgID. */
  publishTimeoutMs?: number;
  /** Published rows are deleted after this long (they are in JetStream by then). */
  retentionMs?: number;
  /** Where the outbox gauges are collected (default: the process's metrics). */
  metrics?: Metrics;
}

/** Errors after which the server may or may not have stored the message: retry, same msgID. */
function isRetryable(err: unknown): boolean {
  const e = err as { name?: string; message?: string; code?: string };
  return (
    e?.name === 'TimeoutError' ||
    e?.name === 'NoRespondersError' ||
    /timeout|no responders|503/i.test(e?.message ?? '') ||
    e?.code === '503'
  );
}

/**
 * Moves outbox rows to JetStream. Each batch is one transaction:
 *
 *   select … where published is null order by created, id limit $n for update skip locked
 *   → publish each row with Nats-Msg-Id = row id (pipelined, acks awaited)
 *   → update … set published = now() for the acked ids; commit
 *
 * `skip locked` lets several replicas relay at once without double work. If the process dies
 * between the publish and the commit, the rows stay unpublished and the next relay publishes
 * them again with the same msgID: the stream's duplicate window drops the copy, and consumers
 * de-duplicate on event id as well. So every event reaches the stream at least once, and is
 * stored once as long as the relay's lag stays under the duplicate window.
 * Pipelining keeps stream order equal to outbox order unless a publish needs a retry.
 *
 * Written here because no maintained Node library relays a PostgreSQL outbox to JetStream;
 * the claim is the same `skip locked` pattern as graphile-worker's job claim.
 */
export class OutboxRelay {
  private readonly js: JetStreamClient;
  private running = false;
  private loop?: Promise<void>;
  private wake?: () => void;
  private listener?: PoolClient;
  private detachListener?: () => void;
  private lastCleanup = 0;
  /** Set by NOTIFY; checked before sleeping so a notification during a batch is not lost. */
  private notified = false;
  private readonly batchSize: number;
  private readonly pollIntervalMs: number;
  private readonly publishTimeoutMs: number;
  private readonly retentionMs: number;
  private unregister?: () => void;

  constructor(private readonly opts: OutboxRelayOptions) {
    this.js = jetstream(opts.nc, { timeout: opts.publishTimeoutMs ?? 5_000 });
    this.batchSize = opts.batchSize ?? 500;
    this.pollIntervalMs = opts.pollIntervalMs ?? 1_000;
    this.publishTimeoutMs = opts.publishTimeoutMs ?? 5_000;
    this.retentionMs = opts.retentionMs ?? 7 * 24 * 3600_000;
  }

  /** Starts relaying in the background until {@link stop}. */
  start(): void {
    if (this.running) return;
    this.running = true;
    this.loop = this.run();
    this.unregister = this.registerMetrics(this.opts.metrics ?? defaultMetrics());
  }

  /**
   * This process committed outbox rows without a NOTIFY (a writer that skips it to spare its
   * commits PostgreSQL's database-wide NOTIFY lock, e.g. the content tier's PutContent): relay
   * now, as a NOTIFY would make it.
   */
  notify(): void {
    this.notified = true;
    this.wake?.();
  }

  /** Finishes the batch in progress, then stops. */
  async stop(): Promise<void> {
    this.running = false;
    this.unregister?.();
    this.wake?.();
    await this.loop;
    const client = this.listener;
    if (client) {
      this.listener = undefined;
      await client.query('unlisten pm_outbox').catch(() => undefined);
      // Detach our handlers before the client goes back to the pool: a later error on the
      // pooled connection must not reach them (they would release it a second time).
      this.detachListener?.();
      client.release();
    }
  }

  /**
   * `pm_outbox_backlog` (unpublished rows) and `pm_outbox_oldest_age_seconds`, read from
   * outbox_events on each scrape (the partial index on unpublished rows keeps it cheap). Every
   * replica reports the same table: aggregate with max(), not sum().
   */
  private registerMetrics(m: Metrics): () => void {
    let last: Promise<{ backlog: number; age: number }> | undefined;
    let at = 0;
    // One query serves both gauges of a scrape.
    const read = () => {
      if (!last || Date.now() - at > 1_000) {
        at = Date.now();
        last = this.opts.pool
          .query<{ backlog: string; age: number | null }>(
            `select count(*) as backlog, extract(epoch from now() - min(created))::float8 as age
               from outbox_events where published is null`,
          )
          .then(({ rows }) => ({ backlog: Number(rows[0].backlog), age: Math.max(0, rows[0].age ?? 0) }));
        last.catch(() => undefined);
      }
      return last;
    };
    const a = m.collect('pm_outbox_backlog', 'Outbox events not yet published to JetStream.', [], async () => [{ value: (await read()).backlog }]);
    const b = m.collect('pm_outbox_oldest_age_seconds', 'Age of the oldest unpublished outbox event, seconds (0 when none).', [], async () => [
      { value: (await read()).age },
    ]);
    const published = m.counter('pm_outbox_published_total', 'Outbox events published by this process.');
    this.onPublished = (n) => published.inc(n);
    return () => {
      a();
      b();
      this.onPublished = undefined;
    };
  }

  private onPublished?: (n: number) => void;

  /** Relays one batch; resolves with the number of events published. */
  async drainOnce(): Promise<number> {
    return withTransaction(this.opts.pool, async (client) => {
      // The trace columns only when tracing is on: off, the relay reads what it always read.
      const { rows } = await client.query<{ id: string; subject: string; payload: Buffer; traceparent?: string | null; tracestate?: string | null }>(
        `select id, subject, payload${tracingEnabled() ? ', traceparent, tracestate' : ''}
           from outbox_events
          where published is null
          order by created, id
          limit $1
            for update skip locked`,
        [this.batchSize],
      );
      if (rows.length === 0) return 0;
      const results = await Promise.allSettled(rows.map((r) => this.publish(r.subject, r.payload, r.id, r)));
      const done: string[] = [];
      const failed: { id: string; error: string }[] = [];
      results.forEach((res, i) => {
        if (res.status === 'fulfilled') done.push(rows[i].id);
        else failed.push({ id: rows[i].id, error: String((res.reason as Error)?.message ?? res.reason) });
      });
      if (done.length)
        await client.query('update outbox_events set published = now(), attempts = attempts + 1 where id = any($1::uuid[])', [done]);
      if (failed.length) {
        await client.query(
          `update outbox_events o set attempts = attempts + 1, last_error = f.error
             from unnest($1::uuid[], $2::text[]) as f(id, error) where o.id = f.id`,
          [failed.map((f) => f.id), failed.map((f) => f.error)],
        );
        this.opts.logger.warn({ failed: failed.length, firstError: failed[0].error }, 'outbox publish failed; will retry');
      }
      return done.length;
    }).then((n) => {
      if (n) this.onPublished?.(n);
      return n;
    });
  }

  private async publish(subject: string, payload: Buffer, id: string, trace: { traceparent?: string | null; tracestate?: string | null }): Promise<void> {
    const h = headers();
    h.set('Pm-Event-Id', id);
    // Tracing on and the row written in a traced request: a PRODUCER span, child of that
    // request, whose context goes out as `traceparent`/`tracestate` headers.
    const span = startPublishSpan(subject, id, trace, h);
    for (let attempt = 1; ; attempt++) {
      try {
        await this.js.publish(subject, payload, { msgID: id, headers: h, timeout: this.publishTimeoutMs });
        endSpan(span);
        return;
      } catch (err) {
        if (!isRetryable(err) || attempt >= 5 || !this.running) {
          endSpan(span, err);
          throw err;
        }
        await new Promise((r) => setTimeout(r, Math.min(2_000, 100 * 2 ** attempt)));
      }
    }
  }

  private async listen(): Promise<void> {
    if (this.listener) return;
    const client = await this.opts.pool.connect();
    const onNotification = () => {
      this.notified = true;
      this.wake?.();
    };
    const onError = (err: Error) => {
      // The LISTEN connection died (database restart, failover): drop it; the loop listens
      // again on a new one and the poll covers the gap. Only ever release it once.
      if (this.listener !== client) return;
      this.listener = undefined;
      this.opts.logger.warn({ err: err.message }, 'outbox relay lost its LISTEN connection');
      client.removeListener('notification', onNotification);
      client.release(err);
    };
    client.on('notification', onNotification);
    client.on('error', onError);
    try {
      await client.query('listen pm_outbox');
    } catch (err) {
      client.removeListener('notification', onNotification);
      // onError stays attached (it ignores a client that is not this.listener): the dying
      // connection may still emit 'error', which unheard would crash the process.
      client.release(err as Error);
      throw err;
    }
    this.listener = client;
    this.detachListener = () => {
      client.removeListener('notification', onNotification);
      client.removeListener('error', onError);
    };
  }

  private async cleanup(): Promise<void> {
    if (Date.now() - this.lastCleanup < 3600_000) return;
    this.lastCleanup = Date.now();
    const res = await this.opts.pool.query(
      `delete from outbox_events where published is not null and published < now() - make_interval(secs => $1)`,
      [this.retentionMs / 1000],
    );
    if (res.rowCount) this.opts.logger.info({ deleted: res.rowCount }, 'outbox: old published rows deleted');
  }

  private async run(): Promise<void> {
    let backoff = 0;
    while (this.running) {
      try {
        await this.listen();
        this.notified = false;
        const n = await this.drainOnce();
        backoff = 0;
        if (n > 0) this.opts.logger.debug({ published: n }, 'outbox relayed');
        if (n >= this.batchSize) continue; // more waiting: no sleep
        await this.cleanup();
      } catch (err) {
        backoff = Math.min(10_000, backoff ? backoff * 2 : 250);
        this.opts.logger.warn({ err: (err as Error).message, retryInMs: backoff }, 'outbox relay error');
      }
      if (!this.running) break;
      if (this.notified && backoff === 0) continue;
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, backoff || this.pollIntervalMs);
        this.wake = () => {
          clearTimeout(t);
          resolve();
        };
      });
      this.wake = undefined;
    }
  }
}
