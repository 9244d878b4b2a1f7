import { Pool, type PoolClient, type PoolConfig } from 'pg';
import type { Logger } from 'pino';
import { currentCall } from '../call-scope';
import { DeadlineExceededError } from '../errors';
import { defaultMetrics, type Metrics } from '../metrics';
import { inChildSpan, tracingEnabled } from '../tracing';
import { SpanKind } from '@opentelemetry/api';

/**
 * A pg pool whose idle-client errors are logged instead of crashing the process (a
 * restarted database kills idle connections; the pool replaces them on next use).
 */
export function createPgPool(
  connectionString: string,
  opts: Partial<PoolConfig> & { logger?: Logger; statementTimeoutMs?: number } = {},
): Pool {
  const { logger, statementTimeoutMs, ...config } = opts;
  const pool = new Pool({
    connectionString,
    max: 10,
    connectionTimeoutMillis: 5_000,
    idleTimeoutMillis: 30_000,
    // A cap on every statement of this pool (sent once at connect), so no query outlives the
    // longest call it can serve; transactions inside a call lower it to the call's deadline.
    ...(statementTimeoutMs ? { statement_timeout: statementTimeoutMs } : {}),
    ...config,
  });
  // Log the message and code only: pg's error carries the whole client object.
  pool.on('error', (err) =>
    logger?.warn({ err: err.message, code: (err as { code?: string }).code }, 'idle PostgreSQL connection failed; it will be replaced'),
  );
  // Every client hears its own 'error' for its whole life, checked out or idle. pg-pool
  // listens only while a client is idle, and withTransaction/withClient from when their await
  // of pool.connect() resumes. Between the two there is a gap: a new connection's ReadyForQuery
  // hands the client over (removing the pool's listener) in the middle of parsing a socket read,
  // and a FATAL in that same read (a backend seeing its postmaster die just after it started)
  // is emitted before the caller's await resumes. Unheard, it crashed the service (kill -9
  // PostgreSQL fault test, about 1 kill in 20; pg-client.test.ts makes it happen every time).
  // The failure still reaches the caller: the client is marked not queryable, its next query
  // fails (classified UNAVAILABLE), and the pool destroys it on release. pg-pool has no option
  // for this (brianc/node-postgres#3202, open: errors of checked-out clients do not reach the
  // pool's listener); mastra-ai/mastra#21765 guards its pool the same way.
  // The pool's 'connect' fires before pg-pool removes its idle listener, so no gap is left.
  pool.on('connect', (client) =>
    client.on('error', (err) => logger?.debug({ err: err.message, code: (err as { code?: string }).code }, 'PostgreSQL connection failed while checked out')),
  );
  return pool;
}

/**
 * `pm_pg_pool_clients{state="total"|"idle"|"waiting"}` and `pm_pg_pool_max` of a pool, read
 * on scrape. Returns the function that removes them (call it before `pool.end()`).
 */
export function registerPoolMetrics(pool: Pool, metrics: Metrics = defaultMetrics()): () => void {
  const a = metrics.collect('pm_pg_pool_clients', 'PostgreSQL pool clients: total (open), idle, waiting (callers queued for a client).', ['state'], () => [
    { labels: { state: 'total' }, value: pool.totalCount },
    { labels: { state: 'idle' }, value: pool.idleCount },
    { labels: { state: 'waiting' }, value: pool.waitingCount },
  ]);
  const b = metrics.collect('pm_pg_pool_max', 'Most clients the PostgreSQL pool opens (DATABASE_POOL_MAX).', [], () => [{ value: pool.options.max ?? 10 }]);
  return () => {
    a();
    b();
  };
}

/**
 * Runs `fn` in a transaction on one pooled client; rolls back on any error.
 *
 * Inside a gRPC call (see call-scope.ts) the transaction carries the call's deadline: its
 * statements get `statement_timeout` = the time left (set in the same round trip as `begin`),
 * and it is rolled back instead of committed when the deadline has passed, so a caller that
 * got DEADLINE_EXCEEDED never finds the write done later. A commit already sent when the
 * deadline passes cannot be called back; that window is one round trip.
 */
export function withTransaction<T>(pool: Pool, fn: (client: PoolClient) => Promise<T>): Promise<T> {
  // Tracing on, inside a traced call or event: one CLIENT span from begin to commit (or
  // rollback); the outbox rows written inside carry its context.
  if (tracingEnabled()) return inChildSpan('pg transaction', SpanKind.CLIENT, { 'db.system.name': 'postgresql', 'db.operation.name': 'transaction' }, () => transaction(pool, fn));
  return transaction(pool, fn);
}

/**
 * Runs `fn` with a client checked out of the pool (several statements, no transaction), and
 * releases it. Like withTransaction it listens for 'error' on the client while it is out: a
 * connection that dies between two statements (a database restart) emits 'error', which the
 * pool only listens for while the client is idle — unheard, that event crashes the process
 * (seen in the kill -9 PostgreSQL fault test). The failure reaches `fn` through its next query;
 * the broken client is destroyed on release. Use this, never a bare `pool.connect()`.
 */
export async function withClient<T>(pool: Pool, fn: (client: PoolClient) => Promise<T>): Promise<T> {
  const client = await pool.connect();
  let broken: Error | undefined;
  const onError = (err: Error) => (broken = err);
  client.on('error', onError);
  try {
    return await fn(client);
  } finally {
    client.removeListener('error', onError);
    client.release(broken);
  }
}

/**
 * Runs `fn`, a single statement that is its own (implicit) transaction, under the same
 * `pg transaction` CLIENT span withTransaction opens when tracing is on: outbox rows built
 * inside carry its context, as they would inside withTransaction. Tracing off: just `fn()`.
 */
export function inStatementTransactionSpan<T>(fn: () => Promise<T>): Promise<T> {
  if (!tracingEnabled()) return fn();
  return inChildSpan('pg transaction', SpanKind.CLIENT, { 'db.system.name': 'postgresql', 'db.operation.name': 'transaction' }, fn);
}

async function transaction<T>(pool: Pool, fn: (client: PoolClient) => Promise<T>): Promise<T> {
  const scope = currentCall();
  const left = () => (scope ? scope.deadline.getTime() - Date.now() : Infinity);
  if (left() <= 0) throw new DeadlineExceededError('the deadline passed before the transaction began');
  const client = await pool.connect();
  // A connection that dies while checked out (a database restart between two statements)
  // emits 'error' on the client, which the pool only listens for while the client is idle:
  // without this listener that event crashes the process. The failure reaches `fn` through its
  // next query anyway; the broken client is destroyed on release below.
  let broken: Error | undefined;
  const onError = (err: Error) => (broken = err);
  client.on('error', onError);
  try {
    await client.query(scope ? `begin; set local statement_timeout = ${Math.max(1, Math.ceil(left()))}` : 'begin');
    const out = await fn(client);
    if (left() <= 0 || scope?.signal.aborted) throw new DeadlineExceededError('the deadline passed before the transaction could commit; nothing was written');
    await client.query('commit');
    return out;
  } catch (err) {
    if (!broken) await client.query('rollback').catch(() => undefined);
    throw err;
  } finally {
    client.removeListener('error', onError);
    client.release(broken);
  }
}
