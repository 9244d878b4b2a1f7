import type { PoolClient } from 'pg';
import {
  AlreadyExistsError,
  DeadlineExceededError,
  FailedPreconditionError,
  NotFoundError,
  fitPage,
  listPage,
  activeTraceHeaders,
  currentCall,
  inStatementTransactionSpan,
  withClient,
  withTransaction,
  type KeysetCursor,
} from '@penguinmails/service-kit';
import { uuid7 } from '../db/uuid7';
import { claimJobsAllTenants, claimJobsAllTenantsLean } from '../db/claim-jobs-all-tenants';
import { claimGroupedJobs, lockRunnableGroups } from '../db/claim-grouped-jobs';
import { claimLean, DEADLINE_PASSED } from '../db/claim-lean';
import { ClaimGates } from './claim-gate';
import { completeJobs as completeJobsSql } from '../db/complete-jobs';
import { enqueueJobs as enqueueJobsSql } from '../db/enqueue-jobs';
import { failJobs as failJobsSql } from '../db/fail-jobs';
import { findJobs } from '../db/find-jobs';
import { getQueueStats as getQueueStatsSql, type QueueStatsRow } from '../db/get-queue-stats';
import { retryJob as retryJobSql } from '../db/retry-job';
import { cancelJob as cancelJobSql } from '../db/cancel-job';
import { REPLY_JOB_OVERHEAD, claimJobs as claimJobsSql, claimJobsLean as claimJobsLeanSql, type LeanRow } from '../db/claim-jobs';
import { completeJob as completeJobSql } from '../db/complete-job';
import { enqueueJob as enqueueJobSql, type NewJob } from '../db/enqueue-job';
import { extendLease as extendLeaseSql } from '../db/extend-lease';
import { failJob as failJobSql } from '../db/fail-job';
import { findJob } from '../db/find-job';
import { notifyLeasesEnded } from '../db/listen-runnable-jobs';
import { jobColumns } from '../db/job-columns';
import type { LeaseHolder } from '../db/lease';
import type { JobRow } from '../db/prisma';
import { reclaimExpiredLeases } from '../db/reclaim-expired-leases';
import type { ServerDeps } from '../deps';
import { retryDelayMs } from './backoff';
import { JOB_BYTES, pageBudget } from './reply-size';
import type { JobStatusValue } from './enums';
import { emitJobEvents, emitJobsSucceeded } from './events';
import { longPoll, wakeKey } from './wake-ups';

// The rules of the `jobs` table. Every function here gets input the rpc layer validated;
// everything that changes a status runs in one transaction with the events it causes.

export type { JobRow, LeanRow, LeaseHolder, NewJob, QueueStatsRow };

type Deps = Pick<ServerDeps, 'pool' | 'prisma' | 'names' | 'limits' | 'wakeups' | 'grpc'>;

export async function enqueueJob(deps: Deps, job: NewJob): Promise<{ row: JobRow; created: boolean }> {
  return withClient(deps.pool, async (client) => {
    const { row, created, sameWork } = await enqueueJobSql(client, job);
    if (!sameWork) throw keyConflict(job, row.id);
    return { row, created };
  });
}

/** ALREADY_EXISTS: the job's idempotency key names `existingId`, a job with another task or payload. */
function keyConflict(job: Pick<NewJob, 'idempotencyKey' | 'queue'>, existingId: string): AlreadyExistsError {
  return new AlreadyExistsError(
    'job',
    existingId,
    `idempotency_key "${job.idempotencyKey}" of queue "${job.queue}" already names job ${existingId} with another task or payload; ` +
      'use a new key for different work, or resend the same task and payload to get that job back',
  );
}

export async function getJob(deps: Deps, tenantId: string, jobId: string): Promise<JobRow> {
  const row = await deps.prisma.job.findFirst({ where: { id: jobId, tenantId } });
  if (!row) throw new NotFoundError('job', jobId);
  return row;
}

/**
 * Newest first, keyset-paged on (created, id) by the kit's `listPage`: stable while jobs are
 * being added. `cursor` is the decoded page token (the rpc layer binds it to tenant + filters).
 *
 * Without a status filter the page is the union of one index-ordered part per status under one
 * `order by … limit`, in ONE statement (one snapshot, so a job that changes status meanwhile is
 * listed once): each status but running is a backward range scan of size + 1 entries of
 * `jobs_status_created_idx` (tenant_id, status, created, id), running jobs come from
 * `jobs_leased_idx` (sorted; bounded by the leases out). That index leaves running jobs out so
 * that a claim writes no entry in it (20261228000000_jobs_fewer_writes), and it is the only
 * ListJobs index so that an enqueue writes one entry for listing, not two
 * (20261230000000_jobs_one_list_index). Written out rather than a `union all`
 * view under the kit's listPage: that form was planned as a parallel sequential scan of the
 * tenant's rows (EXPLAIN on 220k jobs: 128 ms vs an index scan). The first `size` + 1 rows of
 * the union are among the first `size` + 1 of each part; the cursor is the kit's
 * (microseconds of `created`, id), so page tokens are those of listPage.
 */
/** Every status, one part each in the unfiltered ListJobs (fixed literals, never caller input). */
const LIST_STATUSES = ['queued', 'failed', 'running', 'succeeded', 'dead', 'cancelled', 'held'] as const;

export async function listJobs(
  deps: Deps,
  args: { tenantId: string; status?: JobStatusValue; queue?: string; cursor?: KeysetCursor; size: number },
): Promise<{ rows: JobRow[]; next?: KeysetCursor }> {
  if (args.status !== undefined)
    return listPage<JobRow>(deps.pool, {
      table: 'jobs',
      columns: jobColumns(),
      tenantId: args.tenantId,
      filters: [
        ['status', args.status],
        ['queue', args.queue],
      ],
      cursor: args.cursor,
      size: args.size,
      budget: pageBudget(deps, JOB_BYTES),
    });
  const values: unknown[] = [args.tenantId, args.size + 1];
  const where = ['tenant_id = $1'];
  if (args.queue !== undefined) {
    values.push(args.queue);
    where.push(`queue = $${values.length}`);
  }
  if (args.cursor) {
    values.push(args.cursor.c, args.cursor.i);
    const n = values.length - 1;
    where.push(`(created, id) < (timestamptz 'epoch' + ($${n}::bigint * interval '1 microsecond'), $${n + 1}::uuid)`);
  }
  const part = (status: string) =>
    `(select * from jobs where ${where.join(' and ')} and ${status} order by created desc, id desc limit $2)`;
  const { rows } = await deps.pool.query<JobRow & { cursor_us: string }>(
    `select ${jobColumns()}, (extract(epoch from jobs.created) * 1000000)::bigint::text as cursor_us
       from (${LIST_STATUSES.map((st) => part(`status = '${st}'`)).join(' union all ')}) jobs
      order by jobs.created desc, jobs.id desc
      limit $2`,
    values,
  );
  const page = fitPage(rows, args.size, pageBudget(deps, JOB_BYTES));
  return {
    rows: page.rows.map(({ cursor_us: _, ...r }) => r as JobRow),
    next: page.last ? { c: page.last.cursor_us, i: page.last.id } : undefined,
  };
}

/**
 * Takes back expired leases of the queue (each a failed attempt), then leases up to `limit`
 * runnable jobs to the worker; one transaction, so a job reclaimed here can be handed out by
 * this same call. Jobs that died because their last lease expired emit JobDead.
 * `tenantId` undefined: a platform worker's claim across tenants (the rpc layer checked its
 * service scope), fair between tenants (db/claim-jobs-all-tenants.ts).
 *
 * `waitMs` > 0 is a long poll: when nothing is runnable the call waits — never past its
 * deadline — until the enqueue's NOTIFY wakes it (wake-ups.ts longPoll) or, as a fallback, every
 * `claimWaitPollMs`, and claims again. It subscribes before each claim, so a wake-up that
 * lands between an empty claim and the wait is not missed. No transaction is held while it waits.
 */
export interface ClaimArgs {
  tenantId?: string;
  queue: string;
  workerId: string;
  limit: number;
  leaseSeconds: number;
  waitMs?: number;
  /** Ack-and-fetch: attempts of this worker to complete first, in the claim's transaction. */
  complete?: (BatchAttempt & { output?: object })[];
  /**
   * The estimated reply bytes the claimed jobs may take (db/claim-jobs.ts fitCte): fewer jobs
   * than `limit` when their payloads would not fit in one gRPC message. Always at least one.
   */
  maxReplyBytes: number;
}

/**
 * What the claimed jobs of one ClaimJobs reply may take (ClaimArgs.maxReplyBytes,
 * db/claim-jobs.ts fitCte): the largest message the server sends, less the `completed` list of
 * an ack-and-fetch (~60 bytes an entry), less room for one job more than the estimate allows
 * (a statement always takes one; a job's estimate is at most its payload limit, times 4 for a
 * full Job).
 */
export function claimReplyBudget(a: { maxSendBytes: number; payloadMaxBytes: number; lean: boolean; completed: number }): number {
  return a.maxSendBytes - 1024 - a.completed * 64 - (a.payloadMaxBytes + 200) * (a.lean ? 1 : 4) - REPLY_JOB_OVERHEAD;
}

export async function claimJobs(deps: Deps, args: ClaimArgs): Promise<{ rows: JobRow[]; completed: EndedJob[] }> {
  return claimLoop(deps, args, false);
}

/**
 * claimJobs for the lean reply (db/claim-jobs.ts LeanRow: payload as JSON text, no
 * timestamps). Both take `complete`: those attempts are completed first (completeJobs' rules,
 * one JobsSucceeded per tenant) in the same transaction as the first claim, so a worker that
 * loops claim → run → claim needs one round trip per batch. A long poll that waits afterwards
 * does not complete them again: they committed with the first (possibly empty) claim.
 */
export async function claimJobsLean(deps: Deps, args: ClaimArgs): Promise<{ rows: LeanRow[]; completed: EndedJob[] }> {
  return claimLoop(deps, args, true);
}

async function claimLoop<L extends boolean>(
  deps: Deps,
  args: ClaimArgs,
  lean: L,
): Promise<{ rows: L extends true ? LeanRow[] : JobRow[]; completed: EndedJob[] }> {
  type Rows = L extends true ? LeanRow[] : JobRow[];
  // The attempts complete with the first claim only: a wait afterwards does not complete them again.
  let complete = args.complete?.length ? args.complete : undefined;
  let completed: EndedJob[] = [];
  const rows = await longPoll(
    deps.wakeups,
    { waitMs: args.waitMs ?? 0, pollMs: deps.limits.claimWaitPollMs, keys: [wakeKey(args.tenantId, args.queue)] },
    async () => {
      const once = await claimOnce(deps, args, lean, complete);
      if (complete) completed = once.completed;
      complete = undefined;
      return once.rows as Rows;
    },
    (claimed) => claimed.length > 0,
  );
  return { rows, completed };
}

async function claimOnce(
  deps: Deps,
  args: ClaimArgs,
  lean: boolean,
  complete: ClaimArgs['complete'],
): Promise<{ rows: JobRow[] | LeanRow[]; completed: EndedJob[] }> {
  if (lean && args.tenantId !== undefined) return claimLeanOnce(deps, { ...args, tenantId: args.tenantId }, complete);
  const release = await acquireClaimSlot(deps, args);
  try {
    return await claimInTransaction(deps, args, lean, complete);
  } finally {
    release();
  }
}

/** The claim gates of one service instance (its limits object), claim-gate.ts. */
const claimGates = new WeakMap<object, ClaimGates>();

/**
 * Waits for a claim slot of the args' queue (CLAIM_CONCURRENCY). Refuses, before it queues and
 * again once its turn comes, a call that is over: its caller went away (a claim now would lease
 * jobs nobody receives) or its deadline passed.
 */
async function acquireClaimSlot(deps: Deps, args: ClaimArgs): Promise<() => void> {
  let gates = claimGates.get(deps.limits);
  if (!gates) claimGates.set(deps.limits, (gates = new ClaimGates(deps.limits.claimConcurrency ?? 2)));
  const scope = currentCall();
  const over = (when: string) => {
    if (scope?.signal?.aborted) return scope.signal.reason as unknown;
    if (scope && scope.deadline.getTime() <= Date.now()) return new DeadlineExceededError(`the deadline passed ${when}; nothing was written`);
    return undefined;
  };
  const early = over('before the claim began');
  if (early) throw early;
  const release = await gates.acquire(`${args.tenantId ?? '*'}/${args.queue}`);
  const late = over('while the claim waited for its turn (CLAIM_CONCURRENCY)');
  if (late) {
    release();
    throw late;
  }
  return release;
}

/**
 * A lean claim of one tenant's queue: ONE statement (db/claim-lean.ts, the SQL function
 * pm_queue_claim_lean) completes `complete` with its JobsSucceeded row and claims, where the
 * transaction below took 6 round trips. When expired leases or runnable grouped jobs wait in
 * the queue (rare on the hot path) the statement stops after the completion (committed) and
 * the claim runs the slow way: claimInTransaction, without `complete`. Only jobs the completion
 * did not match are read again, after the commit, to explain them (REPEATED, LEASE_LOST,
 * NOT_FOUND — batchOutcomes' rules).
 *
 * The call's deadline travels into the statement: if it passed when the function ends, the
 * function raises and the statement rolls back (nothing written), as withTransaction rolls back
 * a transaction whose call timed out. The statement's length is capped by the pool's
 * statement_timeout (GRPC_MAX_CALL_MS), not by the time left, which withTransaction sets per
 * transaction with a `set local` — a round trip this path does not make.
 */
async function claimLeanOnce(
  deps: Deps,
  args: ClaimArgs & { tenantId: string },
  complete: ClaimArgs['complete'],
): Promise<{ rows: LeanRow[]; completed: EndedJob[] }> {
  const scope = currentCall();
  const list = complete ?? [];
  const release = await acquireClaimSlot(deps, args);
  const fast = await inStatementTransactionSpan(async () => {
    const tc = activeTraceHeaders();
    try {
      return await claimLean(deps.pool, {
        tenantId: args.tenantId,
        queue: args.queue,
        workerId: args.workerId,
        limit: args.limit,
        leaseSeconds: args.leaseSeconds,
        maxReplyBytes: args.maxReplyBytes,
        complete: list,
        subject: deps.names.subject('queue', args.tenantId, 'jobs_succeeded'),
        trace: tc ? { traceparent: tc.traceparent, tracestate: tc.tracestate } : undefined,
        deadline: scope?.deadline,
      });
    } catch (err) {
      if ((err as { code?: string }).code === DEADLINE_PASSED) throw new DeadlineExceededError('the deadline passed before the claim could commit; nothing was written');
      throw err;
    }
  }).finally(release);
  let completed: EndedJob[] = [];
  if (list.length) {
    const missed = new Set(fast.missed);
    const done = new Set(list.filter((j) => !missed.has(j.jobId.toLowerCase())).map((j) => j.jobId));
    if (missed.size === 0) completed = list.map((j) => ({ jobId: j.jobId, outcome: 'done', status: 'succeeded' }));
    else {
      completed = await withClient(deps.pool, (client) =>
        batchOutcomes(client, { tenantId: args.tenantId, workerId: args.workerId, jobs: list }, done, COMPLETED, 'complete', 'succeeded'),
      );
    }
  }
  if (!fast.slow) return { rows: fast.rows, completed };
  const rest = await claimInTransaction(deps, args, true, undefined);
  return { rows: rest.rows as LeanRow[], completed };
}

/** A claim as one client-side transaction: complete, sweep (+ JobDead), grouped claim, claim. */
async function claimInTransaction(
  deps: Deps,
  args: ClaimArgs,
  lean: boolean,
  complete: ClaimArgs['complete'],
): Promise<{ rows: JobRow[] | LeanRow[]; completed: EndedJob[] }> {
  return withTransaction(deps.pool, async (client) => {
    const completed = complete ? await completeInTransaction(client, deps, { tenantId: args.tenantId, workerId: args.workerId, jobs: complete }) : [];
    const { reclaimed, groupedRunnable } = await reclaimExpiredLeases(client, { tenantId: args.tenantId, queue: args.queue, limit: deps.limits.claimBatchMax });
    await emitJobEvents(client, deps.names, reclaimed);
    const { tenantId } = args;
    // Jobs of concurrency groups first (each group locked, its running jobs counted, at most
    // its limit leased: db/claim-grouped-jobs.ts), then ungrouped jobs for the rest of the
    // batch. The sweep statement said whether there are grouped jobs: without, no extra statement.
    const locked = groupedRunnable ? await lockRunnableGroups(client, { tenantId, queue: args.queue, limit: args.limit }) : undefined;
    const grouped = locked?.groups.length ? await claimGroupedJobs(client, { ...args, ...locked }, lean) : [];
    const rest = args.limit - grouped.length;
    const budget = args.maxReplyBytes - replyBytes(grouped, lean);
    if (rest <= 0 || (grouped.length > 0 && budget <= 0)) return { rows: grouped, completed };
    const claim = { ...args, limit: rest, complete: undefined, maxReplyBytes: budget };
    const rows =
      tenantId === undefined
        ? await (lean ? claimJobsAllTenantsLean : claimJobsAllTenants)(client, { ...claim, share: locked?.groups.length ? share(locked.tenantCap, grouped) : undefined })
        : await (lean ? claimJobsLeanSql : claimJobsSql)(client, { ...claim, tenantId });
    if (grouped.length === 0) return { rows, completed };
    return { rows: lean ? [...(grouped as LeanRow[]), ...(rows as LeanRow[])] : inClaimOrder([...(grouped as JobRow[]), ...(rows as JobRow[])]), completed };
  });
}

/** What the grouped step of a claim across tenants took of each tenant, against the cap it computed. */
function share(cap: number, grouped: (JobRow | LeanRow)[]): { cap: number; taken: Map<string, number> } {
  const taken = new Map<string, number>();
  for (const r of grouped) taken.set(r.tenantId, (taken.get(r.tenantId) ?? 0) + 1);
  return { cap, taken };
}

/** The reply bytes of claimed rows as the claim statements estimate them (db/claim-jobs.ts fitCte). */
function replyBytes(rows: JobRow[] | LeanRow[], lean: boolean): number {
  let n = 0;
  for (const r of rows) {
    const payload = lean ? (r as LeanRow).payload : JSON.stringify((r as JobRow).payload ?? {});
    n += (Buffer.byteLength(payload) + Buffer.byteLength(r.task)) * (lean ? 1 : 4) + REPLY_JOB_OVERHEAD;
  }
  return n;
}

/** Full rows in claim order (priority, then run_at, then id). */
function inClaimOrder(rows: JobRow[]): JobRow[] {
  return rows.sort((a, b) => b.priority - a.priority || a.runAt.getTime() - b.runAt.getTime() || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
}

export async function extendLease(deps: Deps, lease: LeaseHolder, leaseSeconds: number): Promise<JobRow> {
  return withTransaction(deps.pool, async (client) => {
    const row = await extendLeaseSql(client, lease, leaseSeconds);
    if (!row) throw leaseRefusal(await findJob(client, lease), lease, 'extend the lease of');
    return row;
  });
}

/**
 * RUNNING → SUCCEEDED for the lease holder, with JobSucceeded. Idempotent for that attempt: a
 * repeat after a lost reply gets the job as it is, writing nothing (see endedByThisAttempt).
 */
export async function completeJob(deps: Deps, lease: LeaseHolder, output?: object): Promise<JobRow> {
  return endAttempt(deps, lease, COMPLETED, 'complete', (client) => completeJobSql(client, lease, output));
}

/**
 * Records a failed attempt for the lease holder (FAILED with a retry, or DEAD), with JobDead
 * when it is dead. Idempotent for that attempt, like completeJob; the repeat's error text,
 * permanent flag and delay are not compared: the attempt's failure is recorded once, by the
 * call that got there first.
 */
export async function failJob(
  deps: Deps,
  lease: LeaseHolder,
  failure: { error: string; permanent: boolean; retryAfterSeconds: number },
): Promise<JobRow> {
  const delay =
    failure.retryAfterSeconds > 0
      ? failure.retryAfterSeconds * 1000
      : retryDelayMs(lease.attempt, { baseMs: deps.limits.retryBaseMs, maxMs: deps.limits.retryMaxMs });
  return endAttempt(deps, lease, FAILED, 'fail', (client) =>
    failJobSql(client, lease, { error: failure.error, permanent: failure.permanent, retryDelayMs: delay }),
  );
}

/**
 * Ends the lease holder's attempt with `write` (one statement) and its events, in one
 * transaction. Only when `write` matches no row, off the hot path, is the job read (the same
 * lookup that explains a refusal): a repeat of this attempt's own `outcome` gets the job as it
 * is, anything else is refused.
 */
async function endAttempt(
  deps: Deps,
  lease: LeaseHolder,
  outcome: readonly string[],
  action: string,
  write: (client: PoolClient) => Promise<JobRow | undefined>,
): Promise<JobRow> {
  return withTransaction(deps.pool, async (client) => {
    const row = await write(client);
    if (!row) {
      const job = await findJob(client, lease);
      if (job && endedByThisAttempt(job, lease, outcome)) return job;
      throw leaseRefusal(job, lease, action);
    }
    await emitJobEvents(client, deps.names, [row]);
    return row;
  });
}

/** Enqueues a batch of one tenant's jobs in one statement; a result per job, in order. */
export async function enqueueJobs(
  deps: Deps,
  tenantId: string,
  jobs: Omit<NewJob, 'tenantId'>[],
): Promise<{ id: string; outcome: EnqueueOutcome }[]> {
  // Time-ordered ids (db/uuid7.ts): the batch's pkey entries land on the index's right edge.
  const now = Date.now();
  const ids = jobs.map(() => uuid7(now));
  const rows = await enqueueJobsSql(deps.pool, tenantId, ids, jobs);
  return rows.map((r) => ({ id: r.id, outcome: outcomeOf(r) }));
}

const outcomeOf = (r: { created: boolean; debounced?: boolean; sameWork: boolean }): EnqueueOutcome =>
  r.created ? 'created' : r.debounced ? 'debounced' : r.sameWork ? 'existing' : 'key_conflict';

export type EnqueueOutcome = 'created' | 'existing' | 'key_conflict' | 'debounced';

/**
 * EnqueueJob of a job with a group, singleton, debounce, throttle or hold key: the batch statement
 * (db/enqueue-jobs.ts, which knows every key) for one job, then the job as it is. A job with
 * only an idempotency key keeps the single-row statement of enqueueJob.
 *
 * In a transaction, so that a refusal writes nothing: the statement creates the job_holds row of
 * a hold key's first use even when the job itself is not inserted (its idempotency key names
 * other work), and that row must not outlive the ALREADY_EXISTS (found by the fuzz campaign,
 * seed 28112611: "refused with ALREADY_EXISTS but the store changed").
 */
export async function enqueueKeyedJob(deps: Deps, job: NewJob): Promise<{ row: JobRow; outcome: EnqueueOutcome }> {
  const ids = [uuid7()];
  const { id, outcome } = await withTransaction(deps.pool, async (client) => {
    const [r] = await enqueueJobsSql(client, job.tenantId, ids, [job]);
    const result = { id: r.id, outcome: outcomeOf(r) };
    if (result.outcome === 'key_conflict') throw keyConflict(job, r.id);
    return result;
  });
  const row = await deps.prisma.job.findFirst({ where: { id, tenantId: job.tenantId } });
  // Only reachable if the job was removed between the two statements (retention of a job that finished at once).
  if (!row) throw new NotFoundError('job', id);
  return { row, outcome };
}

export type EndOutcome = 'done' | 'repeated' | 'lease_lost' | 'not_found';
export interface EndedJob {
  jobId: string;
  outcome: EndOutcome;
  status?: string;
  message?: string;
}
export interface BatchAttempt {
  jobId: string;
  attempt: number;
}

/**
 * CompleteJob for a batch of one worker's attempts: one statement for all of them, one
 * JobsSucceeded per tenant, one transaction. Each job gets its own outcome (never an error
 * for the batch): DONE; REPEATED — this worker's own CompleteJob(s) already ended this attempt
 * (endedByThisAttempt, as for CompleteJob); LEASE_LOST; NOT_FOUND. Only jobs the update did not
 * match are read again (off the hot path).
 */
export async function completeJobs(
  deps: Deps,
  args: { tenantId?: string; workerId: string; jobs: (BatchAttempt & { output?: object })[] },
): Promise<EndedJob[]> {
  return withTransaction(deps.pool, (client) => completeInTransaction(client, deps, args));
}

async function completeInTransaction(
  client: PoolClient,
  deps: Deps,
  args: { tenantId?: string; workerId: string; jobs: (BatchAttempt & { output?: object })[] },
): Promise<EndedJob[]> {
  const done = await completeJobsSql(client, {
    tenantId: args.tenantId,
    workerId: args.workerId,
    ids: args.jobs.map((j) => j.jobId),
    attempts: args.jobs.map((j) => j.attempt),
    outputs: args.jobs.map((j) => j.output ?? null),
  });
  await emitJobsSucceeded(client, deps.names, done);
  return batchOutcomes(client, args, new Set(done.map((r) => r.id)), COMPLETED, 'complete', 'succeeded');
}

/** FailJob for a batch of one worker's attempts (see completeJobs); JobDead per job that died. */
export async function failJobs(
  deps: Deps,
  args: { tenantId?: string; workerId: string; jobs: (BatchAttempt & { error: string; permanent: boolean; retryAfterSeconds: number })[] },
): Promise<EndedJob[]> {
  return withTransaction(deps.pool, async (client) => {
    const rows = await failJobsSql(client, {
      tenantId: args.tenantId,
      workerId: args.workerId,
      ids: args.jobs.map((j) => j.jobId),
      attempts: args.jobs.map((j) => j.attempt),
      errors: args.jobs.map((j) => j.error),
      permanent: args.jobs.map((j) => j.permanent),
      delaysMs: args.jobs.map((j) =>
        j.retryAfterSeconds > 0 ? j.retryAfterSeconds * 1000 : retryDelayMs(j.attempt, { baseMs: deps.limits.retryBaseMs, maxMs: deps.limits.retryMaxMs }),
      ),
    });
    await emitJobEvents(client, deps.names, rows);
    const status = new Map(rows.map((r) => [r.id, r.status]));
    const out = await batchOutcomes(client, args, new Set(status.keys()), FAILED, 'fail', '');
    return out.map((o) => (o.outcome === 'done' ? { ...o, status: status.get(o.jobId) } : o));
  });
}

async function batchOutcomes(
  client: PoolClient,
  args: { tenantId?: string; workerId: string; jobs: BatchAttempt[] },
  done: Set<string>,
  outcome: readonly string[],
  action: string,
  doneStatus: string,
): Promise<EndedJob[]> {
  const missed = args.jobs.filter((j) => !done.has(j.jobId)).map((j) => j.jobId);
  const found = missed.length ? new Map((await findJobs(client, { tenantId: args.tenantId, ids: missed })).map((r) => [r.id, r])) : new Map<string, JobRow>();
  return args.jobs.map((j): EndedJob => {
    if (done.has(j.jobId)) return { jobId: j.jobId, outcome: 'done', status: doneStatus };
    const job = found.get(j.jobId);
    const lease = { tenantId: job?.tenantId ?? args.tenantId ?? '', jobId: j.jobId, workerId: args.workerId, attempt: j.attempt };
    if (!job) return { jobId: j.jobId, outcome: 'not_found' };
    if (endedByThisAttempt(job, lease, outcome)) return { jobId: j.jobId, outcome: 'repeated', status: job.status };
    return { jobId: j.jobId, outcome: 'lease_lost', status: job.status, message: leaseRefusal(job, lease, action).message };
  });
}

/**
 * DEAD or CANCELLED → QUEUED with `extraAttempts` more attempts, runnable now (an operator's
 * "run it again" once the cause is fixed). Other statuses are FAILED_PRECONDITION.
 */
export async function retryJob(deps: Deps, args: { tenantId: string; jobId: string; extraAttempts: number }): Promise<JobRow> {
  return withTransaction(deps.pool, async (client) => {
    const row = await retryJobSql(client, args);
    if (row) return row;
    const current = await findJob(client, args);
    if (!current) throw new NotFoundError('job', args.jobId);
    throw new FailedPreconditionError(
      `job/${args.jobId}`,
      current.attempts >= 100
        ? `job ${args.jobId} has used the most attempts a job may have (100); enqueue it again as a new job`
        : `job ${args.jobId} is ${current.status}; only dead or cancelled jobs can be retried (a queued, running or failed job will run anyway)`,
    );
  });
}

export async function getQueueStats(deps: Deps, args: { tenantId?: string; queue?: string }): Promise<QueueStatsRow[]> {
  return getQueueStatsSql(deps.pool, args);
}

/**
 * QUEUED, FAILED or HELD → CANCELLED, and RUNNING with `includeRunning` (its lease ends now; its
 * worker is refused at its next call for the attempt: leaseRefusal).
 */
export async function cancelJob(deps: Deps, args: { tenantId: string; jobId: string; includeRunning: boolean }): Promise<JobRow> {
  const { tenantId, jobId } = args;
  return withTransaction(deps.pool, async (client) => {
    const row = await cancelJobSql(client, args);
    // A running attempt ended here (ended_by ''): wake the CheckLeases calls waiting on it, on
    // every replica, when this commits.
    if (row && args.includeRunning && row.endedBy === '') await notifyLeasesEnded(client, [row.id]);
    if (row) return row;
    const current = await findJob(client, { tenantId, jobId });
    if (!current) throw new NotFoundError('job', jobId);
    throw new FailedPreconditionError(
      `job/${jobId}`,
      current.status === 'running'
        ? `job ${jobId} is running (leased to ${current.lockedBy}); set include_running to cancel it anyway (its worker is told at its next call for the attempt), or let the worker finish or fail it`
        : `job ${jobId} is ${current.status}, which is final; only queued, failed, held or (with include_running) running jobs can be cancelled`,
    );
  });
}

/** The statuses a CompleteJob leaves the job in: only SUCCEEDED, which is final. */
const COMPLETED: readonly string[] = ['succeeded'];
/**
 * The statuses a FailJob leaves the job in: FAILED (retry scheduled) or DEAD, HELD (the retry
 * waits for its hold key), and CANCELLED —
 * a failed job may be cancelled before its retry, which does not undo the recorded failure.
 * Not RUNNING: a retry that was claimed is a new attempt, and `attempts` no longer matches.
 */
const FAILED: readonly string[] = ['failed', 'dead', 'cancelled', 'held'];

/**
 * Whether this lease holder's own CompleteJob (outcome COMPLETED) or FailJob (FAILED) already
 * ended the attempt: the same worker id in `ended_by`, the same attempt still the current one,
 * and a status that outcome leads to. Such a repeat (the worker retrying after a lost reply) is
 * answered with the job as it is now, writing nothing. Every other call that matched no row is
 * refused: another worker, an earlier attempt (a later one was claimed), an attempt whose lease
 * expired and was taken back (`ended_by` is null then), and the other outcome — a CompleteJob
 * after this attempt's FailJob, or the reverse, cannot both be true.
 */
function endedByThisAttempt(job: JobRow, lease: LeaseHolder, outcome: readonly string[]): boolean {
  return job.endedBy === lease.workerId && job.attempts === lease.attempt && outcome.includes(job.status);
}

/** Why a lease holder's call matched no row (`job` as findJob read it): NOT_FOUND, or the state that forbids it. */
export function leaseRefusal(job: JobRow | undefined, lease: LeaseHolder, action: string): Error {
  if (!job) return new NotFoundError('job', lease.jobId);
  const subject = `job/${lease.jobId}`;
  if (job.status !== 'running' && job.endedBy === lease.workerId && job.attempts === lease.attempt) {
    // This very attempt already ended, the other way (completed, then asked to fail, or the
    // reverse) or it is asking to extend a lease it gave up.
    return new FailedPreconditionError(
      subject,
      `cannot ${action} job ${lease.jobId}: attempt ${lease.attempt} of worker "${lease.workerId}" already ended, the job is now ${job.status}` +
        (job.lastError && job.status !== 'succeeded' ? ` (last error: ${clip(job.lastError)})` : '') +
        '; an attempt has one outcome and the first one recorded stands — drop this attempt',
      'LEASE',
    );
  }
  if (job.status === 'running' && job.lockedBy === lease.workerId && job.attempts === lease.attempt && job.groupKey !== null) {
    return new FailedPreconditionError(
      subject,
      `cannot ${action} job ${lease.jobId}: its lease ran out at ${job.lockedUntil?.toISOString()} and it belongs to concurrency group "${job.groupKey}", ` +
        'whose slot was freed when the lease expired (another job of the group may hold it now); complete or fail the attempt, or drop it',
      'LEASE',
    );
  }
  if (job.status === 'cancelled' && job.attempts === lease.attempt && job.endedBy === '') {
    // CancelJob include_running while this attempt ran (db/cancel-job.ts): the lease ended there.
    return new FailedPreconditionError(
      subject,
      `cannot ${action} job ${lease.jobId}: it was cancelled while attempt ${lease.attempt} ran (CancelJob with include_running) — stop the work and drop this attempt`,
      'LEASE',
    );
  }
  if (job.status !== 'running') {
    return new FailedPreconditionError(
      subject,
      `cannot ${action} job ${lease.jobId}: it is ${job.status}, not running` +
        (job.status === 'failed' || job.status === 'dead' ? ` (last error: ${clip(job.lastError ?? '')})` : '') +
        '; the lease was lost — drop this attempt',
      'LEASE',
    );
  }
  return new FailedPreconditionError(
    subject,
    `cannot ${action} job ${lease.jobId}: its lease is held by worker "${job.lockedBy}" for attempt ${job.attempts}, ` +
      `not by "${lease.workerId}" for attempt ${lease.attempt}; the job was claimed again after your lease expired or your attempt ended — drop this attempt`,
    'LEASE',
  );
}

function clip(s: string): string {
  return s.length > 200 ? s.slice(0, 197) + '...' : s;
}
