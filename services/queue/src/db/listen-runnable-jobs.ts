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
 * The channel a running attempt's end by anyone but its worker notifies — a cancel (CancelJob
 * include_running), a lease taken back after it ran out — with the job ids, comma-separated.
 */
export const LEASE_ENDED_CHANNEL = 'pm_queue_lease_ended';

/** Job ids per notification: 200 uuids and their commas fit NOTIFY's 8000-byte payload. */
const IDS_PER_NOTIFY = 200;

/**
 * Tells the listeners (when the caller's transaction commits) that the running attempts of these
 * jobs ended without their worker: CheckLeases calls waiting on them answer (domain/check-leases.ts).
 */
export async function notifyLeasesEnded(db: PoolClient, jobIds: string[]): Promise<void> {
  for (let i = 0; i < jobIds.length; i += IDS_PER_NOTIFY)
    await db.query('select pg_notify($1, $2)', [LEASE_ENDED_CHANNEL, jobIds.slice(i, i + IDS_PER_NOTIFY).join(',')]);
}

/**
 * `LISTEN pm_queue_jobs` and `LISTEN pm_queue_lease_ended` on one pooled connection held for as
 * long as the process listens; calls `onJobs(tenantId, queue)` or `onLeaseEnded(jobId)` (per id)
 * for each notification and `onLost(err)` when the connection breaks (the caller reconnects;
 * notifications sent meanwhile are lost, so waiters also poll). Returns the function that
 * unlistens and gives the connection back.
 * One connection per process, fanned out in-process: a LISTEN per waiting ClaimJobs (or
 * CheckLeases) would hold a pool connection per idle worker.
 */
export async function listenRunnableJobs(
  pool: Pool,
  onJobs: (tenantId: string, queue: string) => void,
  onLost: (err: Error) => void,
  onLeaseEnded: (jobId: string) => void = () => undefined,
): Promise<() => Promise<void>> {
  const client: PoolClient = await pool.connect();
  const onNotification = (msg: { channel: string; payload?: string }) => {
    if (!msg.payload) return;
    if (msg.channel === LEASE_ENDED_CHANNEL) return msg.payload.split(',').forEach(onLeaseEnded);
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
    await client.query(`listen ${RUNNABLE_CHANNEL}; listen ${LEASE_ENDED_CHANNEL}`);
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
      await client.query(`unlisten ${RUNNABLE_CHANNEL}; unlisten ${LEASE_ENDED_CHANNEL}`);
      client.off('error', onError);
      client.release();
    } catch (err) {
      client.off('error', onError);
      client.release(err as Error);
    }
  };
}
