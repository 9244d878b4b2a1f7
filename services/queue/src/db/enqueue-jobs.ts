import type { Pool, PoolClient } from 'pg';
import type { NewJob as NewJobRow } from './enqueue-job';
import { joined } from './joined';

/** A job of the batch; the tenant is the batch's (`$1`), not repeated per job. */
type NewJob = Omit<NewJobRow, 'tenantId'>;

export interface EnqueuedRow {
  id: string;
  created: boolean;
  /** False when an existing job holds the key with another task or payload (nothing enqueued). */
  sameWork: boolean;
  /** debounce: the waiting job of the singleton key took this job's payload and run_at. */
  debounced?: boolean;
}

/** The partial unique index a waiting singleton job is in (20261221000000_job_features, held jobs since 20270103000000_job_holds). */
const SINGLETON_WAITING = `singleton_key is not null and throttle_slot is null and status in ('queued', 'held') and attempts = 0`;

/**
 * The columns every insert of a batch gives, one parameter each ($2..$13, and $14 for hold keys). Columns whose values
 * cannot hold a comma travel as one comma-joined text split in SQL (`string_to_array`): ids
 * (uuids), queue and task (names: letters, digits and `. _ : -`, checked by the rpc layer and by
 * `joined`, joined.ts), priority, max_attempts and the throttle window (integers); the payloads as
 * one JSON array of the payloads' own text, split by `jsonb_array_elements` in order. Only the
 * nullable free-text columns (run_at, the keys, group_limit) stay arrays, mostly of NULLs. node-pg
 * writes an array parameter element by element, each through two regex replaces (escaping
 * quotes and backslashes): ~3 ms of the service's CPU per 1000 jobs for these columns, the
 * biggest JS cost of an EnqueueJobs (`--cpu-prof`, services/queue/README.md "Measured").
 */
const insertFromUnnest = (holds: boolean) => `${
  holds
    ? `with hold as materialized (
             -- Per distinct hold key of the batch, once: 'held' or 'queued', reading the key's
             -- job_holds row FOR SHARE until this statement commits (db/holds.ts). In key order
             -- (the subquery's sort, kept by offset 0): a key's first use inserts its row, and two
             -- batches inserting the same new keys in different orders deadlocked (ABORTED, seen
             -- in test/holds.test.ts before the order).
             select k.key, pm_queue_hold_status($1, k.key, 'queued') as status
               from (select distinct x.key from unnest($14::varchar[]) as x(key) where x.key is not null order by x.key offset 0) k
           )`
    : ''
}
           insert into jobs (id, tenant_id, queue, task, payload, priority, run_at, max_attempts, idempotency_key,
                             group_key, group_limit, singleton_key, throttle_slot${holds ? ', hold_key, status' : ''})
           select i.id, $1, i.queue, i.task, i.payload, i.priority, coalesce(i.run_at, now()), i.max_attempts, i.idempotency_key,
                  i.group_key, i.group_limit, i.singleton_key,
                  -- the throttle window this enqueue falls in, aligned to the epoch (pg-boss's singletonSeconds slot)
                  case when i.throttle > 0 then to_timestamp(floor(extract(epoch from now()) / i.throttle) * i.throttle) end
                  ${holds ? ", i.hold_key, coalesce(h.status, 'queued')" : ''}
             from unnest(string_to_array($2::text, ',')::uuid[], string_to_array($3::text, ',')::varchar[],
                         string_to_array($4::text, ',')::varchar[],
                         array(select p.e from jsonb_array_elements($5::jsonb) with ordinality as p(e, n) order by p.n),
                         string_to_array($6::text, ',')::int[], $7::timestamptz[], string_to_array($8::text, ',')::int[], $9::varchar[],
                         $10::varchar[], $11::int[], $12::varchar[], string_to_array($13::text, ',')::int[]${holds ? ', $14::varchar[]' : ''})
                  with ordinality as i(id, queue, task, payload, priority, run_at, max_attempts, idempotency_key,
                                       group_key, group_limit, singleton_key, throttle, ${holds ? 'hold_key, ' : ''}n)
             ${holds ? 'left join hold h on h.key = i.hold_key' : ''}
            order by i.n`;

const params = (tenantId: string, ids: string[], jobs: NewJob[], holds: boolean) => [
  tenantId,
  ids.join(','),
  joined(jobs.map((j) => j.queue), 'queue'),
  joined(jobs.map((j) => j.task), 'task'),
  `[${jobs.map((j) => j.payloadJson ?? JSON.stringify(j.payload ?? {})).join(',')}]`,
  jobs.map((j) => j.priority).join(','),
  jobs.map((j) => j.runAt ?? null),
  jobs.map((j) => j.maxAttempts).join(','),
  jobs.map((j) => j.idempotencyKey ?? null),
  jobs.map((j) => j.groupKey ?? null),
  jobs.map((j) => (j.groupKey ? (j.groupLimit ?? 1) : null)),
  jobs.map((j) => j.singletonKey ?? null),
  jobs.map((j) => j.throttleSeconds ?? 0).join(','),
  // $14 only in the statement of a batch with hold keys (insertFromUnnest(true)).
  ...(holds ? [jobs.map((j) => j.holdKey ?? null)] : []),
];

/**
 * A batch with hold keys asks job_holds (a CTE, a join, a 14th parameter); one without (the
 * usual batch, and the bench's) keeps the statement it had before holds existed, so it pays
 * nothing for them: with the CTE and join in every batch the bench measured PostgreSQL's CPU per
 * enqueued job at 25.7-26.0 µs against 21.7-23.3 (two alternated runs each, 30,000 jobs).
 */
const hasHoldKeys = (jobs: NewJob[]) => jobs.some((j) => j.holdKey);

/**
 * Inserts a batch of one tenant's jobs with ONE statement, honouring each job's idempotency,
 * singleton and throttle key: `insert … select … from unnest(<one array per column>) … on
 * conflict do nothing returning id`. `on conflict do nothing` without a target makes every
 * unique index an arbiter: the idempotency key, the waiting-singleton index and the throttle
 * window index (partial unique indexes; a job whose columns are outside an index's predicate
 * is not checked against it). Ids are made by the caller (`ids`), so the rows that came back
 * are matched to the request without relying on `returning` order or on keys (keyless jobs
 * have none). Only when some job was not inserted — a retry of an enqueue, a singleton that
 * waits already, a throttled key inside its window — a second statement reads the jobs that
 * hold those keys (committed by then, or inserted by this same statement for a key repeated
 * within the batch: the first one wins, like two EnqueueJob calls; two concurrent enqueues of
 * one key: the second waits on the unique index for the first to commit, then skips).
 *
 * Debounced jobs (singleton_key + debounce) need `on conflict (…) do update`, which takes one
 * arbiter, so they go in a second statement (debounceJobs) — only when the batch has any.
 *
 * Why this and not the others:
 *  - one EnqueueJob per job: 1,050-1,240 jobs/s through gRPC (the issue's figure) — a round
 *    trip, a transaction and a WAL flush per job;
 *  - a multi-row `values ($1,…),($9,…)` list: a parameter per column per job and a new
 *    statement text, so a new plan, per batch size;
 *  - `unnest` of one array per column: 13 parameters whatever the batch size, one cached plan
 *    (named statement), one WAL flush per batch — the shape pg-boss's `insert([...])`
 *    (json_to_recordset) and graphile-worker's `add_jobs` (an array of a composite) use too.
 * Measured (`npm run bench -- --only queue-peers`, 20k jobs, batches of 1000): see the README,
 * "Measured". `jsonb[]` travels as text; the payloads were size-checked by the rpc layer.
 */
export async function enqueueJobs(db: Pool | PoolClient, tenantId: string, ids: string[], jobs: NewJob[]): Promise<EnqueuedRow[]> {
  const out: EnqueuedRow[] = ids.map((id) => ({ id, created: true, sameWork: true }));
  const plain = jobs.map((j, i) => ({ j, i })).filter(({ j }) => !j.debounce);
  const debounced = jobs.map((j, i) => ({ j, i })).filter(({ j }) => j.debounce);
  if (plain.length) {
    const sub = plain.map(({ i }) => ids[i]);
    const rows = await insertPlain(db, tenantId, sub, plain.map(({ j }) => j));
    rows.forEach((r, k) => (out[plain[k].i] = r));
  }
  if (debounced.length) {
    const rows = await debounceJobs(db, tenantId, debounced.map(({ i }) => ids[i]), debounced.map(({ j }) => j));
    rows.forEach((r, k) => (out[debounced[k].i] = r));
  }
  return out;
}

async function insertPlain(db: Pool | PoolClient, tenantId: string, ids: string[], jobs: NewJob[], tries = 0): Promise<EnqueuedRow[]> {
  // A batch without singleton or throttle keys (the common case, and the bench's) names its one
  // arbiter, the idempotency key, as before these keys existed: no other unique index can refuse
  // its rows, and each row skips the speculative probe of the others.
  // A batch with no key at all (no idempotency key either) has no arbiter to name: a plain
  // insert. `on conflict` makes every row a speculative insertion (a probe of the arbiter index
  // and a second WAL record per row, Heap CONFIRM) even when the row's key is null and can never
  // conflict; without it an enqueue writes 5 WAL records per job instead of 6 (pg_walinspect,
  // README "Measured"). Nothing else changes: the ids are new uuids, and a duplicate id was an
  // error with the arbiter named too.
  const keys = jobs.some((j) => j.singletonKey);
  const keyless = !keys && !jobs.some((j) => j.idempotencyKey);
  const holds = hasHoldKeys(jobs);
  // The keyless insert has no `returning`: it inserts every row or fails as a whole, so the ids
  // it would return are `ids`, and PostgreSQL need not send (nor pg parse) a row per job.
  const inserted = await db.query<{ id: string }>({
    name: (keys ? 'queue_enqueue_jobs_keys' : keyless ? 'queue_enqueue_jobs_keyless' : 'queue_enqueue_jobs') + (holds ? '_holds' : ''),
    text: `${insertFromUnnest(holds)}
           ${keyless ? '' : `on conflict ${keys ? '' : '(tenant_id, queue, idempotency_key) where idempotency_key is not null '}do nothing
           returning id`}`,
    values: params(tenantId, ids, jobs, holds),
  });
  const out: EnqueuedRow[] = ids.map((id) => ({ id, created: true, sameWork: true }));
  if (keyless) {
    if (inserted.rowCount !== ids.length) throw new Error(`enqueue: the keyless insert stored ${inserted.rowCount} of ${ids.length} jobs`);
    return out;
  }
  const created = new Set(inserted.rows.map((r) => r.id));
  const missed = jobs.map((j, i) => ({ j, i })).filter(({ i }) => !created.has(ids[i]));
  if (missed.length === 0) return out;

  // 1. Idempotency keys: the job that holds the key (same work → EXISTING, else KEY_CONFLICT).
  const keyed = missed.filter(({ j }) => j.idempotencyKey);
  const byKey = new Map<string, { id: string; task: string; payload: unknown }>();
  if (keyed.length) {
    const existing = await db.query<{ id: string; queue: string; key: string; task: string; payload: unknown }>(
      `select j.id, j.queue, j.idempotency_key as key, j.task, j.payload
         from jobs j
         join unnest($2::varchar[], $3::varchar[]) as k(queue, key) on j.queue = k.queue and j.idempotency_key = k.key
        where j.tenant_id = $1`,
      [tenantId, keyed.map(({ j }) => j.queue), keyed.map(({ j }) => j.idempotencyKey)],
    );
    for (const r of existing.rows) byKey.set(`${r.queue}\u0000${r.key}`, r);
  }
  // 2. Singleton / throttle keys: the waiting singleton, or the job of the current window.
  const bySingleton = new Map<string, string>();
  const singles = missed.filter(({ j }) => j.singletonKey && !(j.idempotencyKey && byKey.has(`${j.queue}\u0000${j.idempotencyKey}`)));
  const waiting = singles.filter(({ j }) => !j.throttleSeconds);
  const throttled = singles.filter(({ j }) => j.throttleSeconds);
  if (waiting.length) {
    const { rows } = await db.query<{ id: string; queue: string; key: string }>(
      `select j.id, j.queue, j.singleton_key as key
         from jobs j
         join unnest($2::varchar[], $3::varchar[]) as k(queue, key) on j.queue = k.queue and j.singleton_key = k.key
        where j.tenant_id = $1 and j.${SINGLETON_WAITING}`,
      [tenantId, waiting.map(({ j }) => j.queue), waiting.map(({ j }) => j.singletonKey)],
    );
    for (const r of rows) bySingleton.set(`s\u0000${r.queue}\u0000${r.key}`, r.id);
  }
  if (throttled.length) {
    // The newest window of the key: the one this enqueue fell in (or a later one, if the window
    // turned between the two statements — that job is as good an answer).
    const { rows } = await db.query<{ id: string; queue: string; key: string }>(
      `select k.queue, k.key, w.id
         from unnest($2::varchar[], $3::varchar[]) as k(queue, key)
         cross join lateral (select j.id from jobs j
                              where j.tenant_id = $1 and j.queue = k.queue and j.singleton_key = k.key and j.throttle_slot is not null
                              order by j.throttle_slot desc limit 1) w`,
      [tenantId, throttled.map(({ j }) => j.queue), throttled.map(({ j }) => j.singletonKey)],
    );
    for (const r of rows) bySingleton.set(`t\u0000${r.queue}\u0000${r.key}`, r.id);
  }
  const again: { j: NewJob; i: number }[] = [];
  for (const { j, i } of missed) {
    const row = j.idempotencyKey ? byKey.get(`${j.queue}\u0000${j.idempotencyKey}`) : undefined;
    if (row) {
      out[i] = { id: row.id, created: false, sameWork: row.task === j.task && sameJson(row.payload, j.payloadJson !== undefined ? JSON.parse(j.payloadJson) : (j.payload ?? {})) };
      continue;
    }
    const holder = j.singletonKey ? bySingleton.get(`${j.throttleSeconds ? 't' : 's'}\u0000${j.queue}\u0000${j.singletonKey}`) : undefined;
    if (holder) out[i] = { id: holder, created: false, sameWork: true };
    // The job that held the key left its index between the two statements (a waiting singleton
    // was claimed, a keyed job removed by retention): enqueue those again.
    else again.push({ j, i });
  }
  if (again.length) {
    if (tries >= 3) throw new Error(`enqueue: ${again.length} job(s) conflicted on a key three times but no job holds it`);
    const rows = await insertPlain(db, tenantId, again.map(({ i }) => ids[i]), again.map(({ j }) => j), tries + 1);
    rows.forEach((r, k) => (out[again[k].i] = r));
  }
  return out;
}

/**
 * Debounce: inserts each job, or — when a job with its singleton key is waiting (queued, never
 * claimed) — gives that job this payload, task, priority, run_at and max_attempts instead, in
 * ONE statement (`on conflict (tenant_id, queue, singleton_key) where <waiting> do update`).
 * Atomic against a concurrent enqueue (the unique index) and against a claim (the update locks
 * the row; a claim that got it first moved it out of the index, and then this inserts a new
 * job). Within one batch the last job of a key wins (PostgreSQL refuses to update one row twice
 * in a statement), the earlier ones answer the same job as DEBOUNCED. A debounced run_at that
 * moves earlier wakes no waiting claimer (the NOTIFY is on insert): their 1 s re-claim finds it.
 */
async function debounceJobs(db: Pool | PoolClient, tenantId: string, ids: string[], jobs: NewJob[]): Promise<EnqueuedRow[]> {
  const last = new Map<string, number>();
  jobs.forEach((j, k) => last.set(`${j.queue}\u0000${j.singletonKey}`, k));
  const sent = [...last.values()].sort((a, b) => a - b);
  const batch = sent.map((k) => jobs[k]);
  const holds = hasHoldKeys(batch);
  const { rows } = await db.query<{ id: string; queue: string; key: string }>({
    name: holds ? 'queue_debounce_jobs_holds' : 'queue_debounce_jobs',
    text: `${insertFromUnnest(holds)}
           on conflict (tenant_id, queue, singleton_key) where ${SINGLETON_WAITING}
           do update set payload = excluded.payload, task = excluded.task, priority = excluded.priority,
                         run_at = excluded.run_at, max_attempts = excluded.max_attempts, updated = now()
           returning id, queue, singleton_key as key`,
    values: params(tenantId, sent.map((k) => ids[k]), batch, holds),
  });
  const byKey = new Map(rows.map((r) => [`${r.queue}\u0000${r.key}`, r.id]));
  return jobs.map((j, k) => {
    const id = byKey.get(`${j.queue}\u0000${j.singletonKey}`);
    if (!id) throw new Error(`debounce: no job came back for singleton key ${j.singletonKey}`);
    const created = id === ids[k];
    return { id, created, sameWork: true, debounced: !created };
  });
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
