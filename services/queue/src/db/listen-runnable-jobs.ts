import type { Pool, PoolClient } from 'pg';

/** The channel of the `jobs_runnable_notify` trigger (migration 20261201000000_batch_protocol). */
export const RUNNABLE_CHANNEL = 'pm_queue_jobs';

/**
 * Tells the listeners (delivered when the caller's transaction commits) that `queue` of
 * `tenantId` has runnable jobs, in the trigger's payload format `<tenant> <queue>`, for writes
 * the insert trigger does not see (an update that makes jobs runnable again). Tenant `*`: the
 * queue of every tenant (a platform-wide group limit).
 */
export async function notifyRunnable(db: PoolClient, tenantId: string, queue: string): Promise<void> {
  await db.query('select pg_notify($1, $2)', [RUNNABLE_CHANNEL, `${tenantId} ${queue}`]);
}

/**
 * `LISTEN pm_queue_jobs` on one pooled connection held for as long as the process listens;
 * calls `onJobs(tenantId, queue)` for each notification and `onLost(err)` when the connection
 * breaks (the caller reconnects; notifications sent meanwhile are lost, so waiters also poll).
 * Returns the function that unlistens and gives the connection back.
 * One connection per process, fanned out in-process: a LISTEN per waiting ClaimJobs would hold
 * a pool connection per idle worker.
 */
export async function listenRunnableJobs(
  pool: Pool,
  onJobs: (tenantId: string, queue: string) => void,
  onLost: (err: Error) => void,
): Promise<() => Promise<void>> {
  const client: PoolClient = await pool.connect();
  const onNotification = (msg: { channel: string; payload?: string }) => {
    if (msg.channel !== RUNNABLE_CHANNEL || !msg.payload) return;
    const space = msg.payload.indexOf(' ');
    if (space > 0) onJobs(msg.payload.slice(0, space), msg.payload.slice(space + 1));
  };
  let closed = false;
  const onError = (err: Error) => {
    if (closed) return;
    closed = true;
    client.off('notification', onNotification);
    client.release(err);
    onLost(err);
  };
  client.on('notification', onNotification);
  client.on('error', onError);
  try {
    await client.query(`listen ${RUNNABLE_CHANNEL}`);
  } catch (err) {
    onError(err as Error);
    throw err;
  }
  return async () => {
    if (closed) return;
    closed = true;
    client.off('notification', onNotification);
    // The error listener stays on until the client is released: a connection that dies during
    // the unlisten emits 'error' besides failing the query, and an unheard 'error' crashes the
    // process (onError ignores it now that `closed` is set).
    try {
      await client.query(`unlisten ${RUNNABLE_CHANNEL}`);
      client.off('error', onError);
      client.release();
    } catch (err) {
      client.off('error', onError);
      client.release(err as Error);
    }
  };
}
