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

/** The channel a cancel of a running job (CancelJob include_running) notifies, with the job id. */
export const CANCELLED_CHANNEL = 'pm_queue_cancelled';

/**
 * Tells the listeners (when the caller's transaction commits) that the running attempt of
 * `jobId` was cancelled: CheckLeases calls waiting on it answer (domain/check-leases.ts).
 */
export async function notifyCancelled(db: PoolClient, jobId: string): Promise<void> {
  await db.query('select pg_notify($1, $2)', [CANCELLED_CHANNEL, jobId]);
}

/**
 * `LISTEN pm_queue_jobs` and `LISTEN pm_queue_cancelled` on one pooled connection held for as
 * long as the process listens; calls `onJobs(tenantId, queue)` or `onCancelled(jobId)` for each
 * notification and `onLost(err)` when the connection breaks (the caller reconnects;
 * notifications sent meanwhile are lost, so waiters also poll). Returns the function that
 * unlistens and gives the connection back.
 * One connection per process, fanned out in-process: a LISTEN per waiting ClaimJobs (or
 * CheckLeases) would hold a pool connection per idle worker.
 */
export async function listenRunnableJobs(
  pool: Pool,
  onJobs: (tenantId: string, queue: string) => void,
  onLost: (err: Error) => void,
  onCancelled: (jobId: string) => void = () => undefined,
): Promise<() => Promise<void>> {
  const client: PoolClient = await pool.connect();
  const onNotification = (msg: { channel: string; payload?: string }) => {
    if (!msg.payload) return;
    if (msg.channel === CANCELLED_CHANNEL) return onCancelled(msg.payload);
    if (msg.channel !== RUNNABLE_CHANNEL) return;
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
    await client.query(`listen ${RUNNABLE_CHANNEL}; listen ${CANCELLED_CHANNEL}`);
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
      await client.query(`unlisten ${RUNNABLE_CHANNEL}; unlisten ${CANCELLED_CHANNEL}`);
      client.off('error', onError);
      client.release();
    } catch (err) {
      client.off('error', onError);
      client.release(err as Error);
    }
  };
}
