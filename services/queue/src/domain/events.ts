import type { PoolClient } from 'pg';
import { queueV1 } from '@penguinmails/contracts';
import { buildEnvelope, outboxInsertMany, type EventNames } from '@penguinmails/service-kit';
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
  };
}
