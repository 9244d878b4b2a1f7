import type { Pool } from 'pg';
import type { NewJob } from './enqueue-job';

export interface EnqueuedRow {
  id: string;
  created: boolean;
  /** False when an existing job holds the key with another task or payload (nothing enqueued). */
  sameWork: boolean;
}

/**
 * Inserts a batch of one tenant's jobs with ONE statement, honouring each job's idempotency key:
 * `insert … select … from unnest(<one array per column>) … on conflict do nothing returning id`.
 * Ids are made by the caller (`ids`), so the rows that came back are matched to the request
 * without relying on `returning` order or on keys (keyless jobs have none). Only when some keyed
 * job was not inserted — a retry of an enqueue, the rare case — a second statement reads the
 * jobs that hold those keys (committed by then, or inserted by this same statement for a key
 * repeated within the batch: the first one wins, like two EnqueueJob calls).
 *
 * Why this and not the others:
 *  - one EnqueueJob per job: 1,050-1,240 jobs/s through gRPC (the figure) — a round
 *    trip, a transaction and a WAL flush per job;
 *  - a multi-row `values ($1,…),($9,…)` list: 8 parameters per job (8,000 for a batch, near the
 *    65,535 limit at 8k jobs) and a new statement text, so a new plan, per batch size;
 *  - `unnest` of 8 arrays: 9 parameters whatever the batch size, one cached plan (named
 *    statement), one WAL flush per batch — the shape pg-boss's `insert([...])`
 *    (json_to_recordset) and graphile-worker's `add_jobs` (an array of a composite) use too.
 *    values vs unnest was not timed against each other; the choice is on the plan cache and the
 *    parameter limit.
 * Measured (`npm run bench -- --only queue-peers`, 20k jobs, batches of 1000, 2 shared cores
 * at load 10-16): 13,800 jobs/s through gRPC (pg-boss insert 34,000, graphile-worker addJobs
 * 40,500 in the same run); the rest of the time was the gRPC/Struct decoding and validation of
 * 1000 jobs in Node: with payload_json (the text goes to `$5` as it came) 22,800 vs 14,100 with
 * Struct payloads in one run (2026-11-26 14:14; pg-boss 28,100 there; bench/README.md).
 * `jsonb[]` travels as text; the payloads were size-checked by the rpc layer.
 */
export async function enqueueJobs(db: Pool, tenantId: string, ids: string[], jobs: NewJob[]): Promise<EnqueuedRow[]> {
  const inserted = await db.query<{ id: string }>({
    name: 'queue_enqueue_jobs',
    text: `insert into jobs (id, tenant_id, queue, task, payload, priority, run_at, max_attempts, idempotency_key)
           select i.id, $1, i.queue, i.task, i.payload, i.priority, coalesce(i.run_at, now()), i.max_attempts, i.idempotency_key
             from unnest($2::uuid[], $3::varchar[], $4::varchar[], $5::jsonb[], $6::int[], $7::timestamptz[], $8::int[], $9::varchar[])
                  with ordinality as i(id, queue, task, payload, priority, run_at, max_attempts, idempotency_key, n)
            order by i.n
           on conflict (tenant_id, queue, idempotency_key) do nothing
           returning id`,
    values: [
      tenantId,
      ids,
      jobs.map((j) => j.queue),
      jobs.map((j) => j.task),
      jobs.map((j) => j.payloadJson ?? JSON.stringify(j.payload ?? {})),
      jobs.map((j) => j.priority),
      jobs.map((j) => j.runAt ?? null),
      jobs.map((j) => j.maxAttempts),
      jobs.map((j) => j.idempotencyKey ?? null),
    ],
  });
  const created = new Set(inserted.rows.map((r) => r.id));
  const missed = jobs.map((j, i) => ({ j, i })).filter(({ i }) => !created.has(ids[i]));
  const out: EnqueuedRow[] = ids.map((id) => ({ id, created: true, sameWork: true }));
  if (missed.length === 0) return out;
  const existing = await db.query<{ id: string; queue: string; key: string; task: string; payload: unknown }>(
    `select j.id, j.queue, j.idempotency_key as key, j.task, j.payload
       from jobs j
       join unnest($2::varchar[], $3::varchar[]) as k(queue, key) on j.queue = k.queue and j.idempotency_key = k.key
      where j.tenant_id = $1`,
    [tenantId, missed.map(({ j }) => j.queue), missed.map(({ j }) => j.idempotencyKey ?? null)],
  );
  const byKey = new Map(existing.rows.map((r) => [`${r.queue}\u0000${r.key}`, r]));
  for (const { j, i } of missed) {
    const row = byKey.get(`${j.queue}\u0000${j.idempotencyKey}`);
    // Only reachable if the conflicting row vanished between the two statements (retention).
    if (!row) throw new Error(`enqueue: idempotency key ${j.idempotencyKey} conflicted but no job holds it`);
    out[i] = { id: row.id, created: false, sameWork: row.task === j.task && sameJson(row.payload, j.payloadJson !== undefined ? JSON.parse(j.payloadJson) : (j.payload ?? {})) };
  }
  return out;
}

/** jsonb equality as PostgreSQL sees it (key order does not matter; jsonb sorts keys). */
function sameJson(a: unknown, b: unknown): boolean {
  return JSON.stringify(sortKeys(a)) === JSON.stringify(sortKeys(b));
}
function sortKeys(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(sortKeys);
  if (v && typeof v === 'object') return Object.fromEntries(Object.keys(v).sort().map((k) => [k, sortKeys((v as Record<string, unknown>)[k])]));
  return v;
}
