import { Pool, type PoolConfig } from 'pg';
import type { Logger } from 'pino';

/**
 * A pg pool whose idle-client errors are logged instead of crashing the process (a
 * restarted database kills idle connections; the pool replaces them on next use).
 */
export function createPgPool(connectionString: string, opts: Partial<PoolConfig> & { logger?: Logger } = {}): Pool {
  const { logger, ...config } = opts;
  const pool = new Pool({
    connectionString,
    max: 10,
    connectionTimeoutMillis: 5_000,
    idleTimeoutMillis: 30_000,
    ...config,
  });
  // Log the message and code only: pg's error carries the whole client object.
  pool.on('error', (err) =>
    logger?.warn({ err: err.message, code: (err as { code?: string }).code }, 'idle PostgreSQL connection failed; it will be replaced'),
  );
  return pool;
}

/** Runs `fn` in a transaction on one pooled client; rolls back on any error. */
export async function withTransaction<T>(pool: Pool, fn: (client: import('pg').PoolClient) => Promise<T>): Promise<T> {
  const client = await pool.connect();
  try {
    await client.query('begin');
    const out = await fn(client);
    await client.query('commit');
    return out;
  } catch (err) {
    await client.query('rollback').catch(() => undefined);
    throw err;
  } finally {
    client.release();
  }
}
