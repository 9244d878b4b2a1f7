import type { PoolClient } from 'pg';
import { queueV1 } from '@penguinmails/contracts';
import { buildEnvelope, outboxInsertMany, type EventNames } from '@penguinmails/service-kit';
import type { CompletedRow } from '../db/complete-jobs';
import type { JobRow } from '../db/prisma';
import { statusToProto } from './enums';

/**
 * Writes JobSucceeded / JobDead for the given rows to the outbox, in the caller's transaction:
 * the event exists exactly when the status change committed. Other statuses emit nothing
 * (retries and claims are the queue's own business).
 */
export async function emitJobEvents(db: PoolClient, names: EventNames, rows: JobRow[]): Promise<void> {
  const events = rows.flatMap((row) => {
    if (row.status === 'succeeded') {
      return [{ row, event: 'job_succeeded', ...build(row, 'penguinmails.queue.v1.JobSucceeded', queueV1.JobSucceeded) }];
    }
    if (row.status === 'dead') {
      return [{ row, event: 'job_dead', ...build(row, 'penguinmails.queue.v1.JobDead', queueV1.JobDead) }];
    }
    return [];
  });
  if (events.length === 0) return;
  const q = outboxInsertMany(
    events.map((e) => ({
      eventId: e.eventId,
      tenantId: e.row.tenantId,
      subject: names.subject('queue', e.row.tenantId, e.event),
      eventType: e.eventType,
      bytes: e.bytes,
    })),
  );
  await db.query(q.text, q.values);
}

/**
 * One JobsSucceeded per tenant of a CompleteJobs batch (ids, queue, task, attempts, finished —
 * no payload), in the caller's transaction: one outbox row per batch instead of one per job.
 * Why not one JobSucceeded per job: each is an outbox row (insert, relay select + publish +
 * update, later delete) and a NATS message; at thousands of completions a second that is most
 * of the work left once the job updates are batched. Consumers that need a job's payload or
 * output ask GetJob. JobDead stays one event per job (rare, and each needs its own handling).
 */
export async function emitJobsSucceeded(db: PoolClient, names: EventNames, rows: CompletedRow[]): Promise<void> {
  const byTenant = new Map<string, CompletedRow[]>();
  // push, not a spread per row: a batch of 1000 of one tenant copied ~500k array slots here.
  for (const r of rows) {
    const list = byTenant.get(r.tenantId);
    if (list) list.push(r);
    else byTenant.set(r.tenantId, [r]);
  }
  if (byTenant.size === 0) return;
  const events = [...byTenant].map(([tenantId, done]) => {
    const eventType = 'penguinmails.queue.v1.JobsSucceeded';
    const { eventId, bytes } = buildEnvelope({
      tenantId,
      source: 'queue',
      eventType,
      type: queueV1.JobsSucceeded,
      payload: { jobs: done.map((r) => ({ id: r.id, queue: r.queue, task: r.task, attempts: r.attempts, finished: r.finished })) },
      occurredAt: done[0].finished,
    });
    return { eventId, tenantId, subject: names.subject('queue', tenantId, 'jobs_succeeded'), eventType, bytes };
  });
  const q = outboxInsertMany(events);
  await db.query(q.text, q.values);
}

function build(
  row: JobRow,
  eventType: string,
  type: typeof queueV1.JobSucceeded | typeof queueV1.JobDead,
): { eventId: string; eventType: string; bytes: Uint8Array } {
  const { eventId, bytes } = buildEnvelope({
    tenantId: row.tenantId,
    source: 'queue',
    eventType,
    type,
    payload: { job: toJob(row) },
    occurredAt: row.finished ?? row.updated,
  });
  return { eventId, eventType, bytes };
}

/** A JSON column as a proto Struct's object (anything else, e.g. null, as undefined). */
export const toStruct = (v: unknown): { [key: string]: unknown } | undefined =>
  v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as { [key: string]: unknown }) : undefined;

/**
 * A jobs row (from Prisma or hand-written SQL) as the proto Job: the `job` of JobSucceeded and
 * JobDead. The RPC replies carry the same message; rpc/mappers.ts hands this one out, since
 * the payload builder here may not import rpc/.
 */
export function toJob(r: JobRow): queueV1.Job {
  return {
    id: r.id,
    tenantId: r.tenantId,
    queue: r.queue,
    task: r.task,
    payload: toStruct(r.payload) ?? {},
    status: statusToProto(r.status),
    priority: r.priority,
    runAt: r.runAt,
    attempts: r.attempts,
    maxAttempts: r.maxAttempts,
    lockedBy: r.lockedBy ?? '',
    lockedUntil: r.lockedUntil ?? undefined,
    idempotencyKey: r.idempotencyKey ?? '',
    lastError: r.lastError ?? '',
    created: r.created,
    updated: r.updated,
    finished: r.finished ?? undefined,
    output: toStruct(r.output),
    groupKey: r.groupKey ?? '',
    groupLimit: r.groupLimit ?? 0,
    singletonKey: r.singletonKey ?? '',
    holdKey: r.holdKey ?? '',
  };
}
