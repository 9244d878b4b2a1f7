import type { Pool } from 'pg';
import type { LeanRow } from './claim-jobs';
import { joined } from './joined';

/**
 * The lean ack-and-fetch ClaimJobs of one tenant's queue in ONE round trip: the SQL function
 * `pm_queue_claim_lean` (migration 20261229000000_claim_lean_function; its claim takes only the
 * jobs that fit in the reply since 20270102000000_claim_reply_budget) completes `complete`
 * (fenced per job by worker + attempt, as complete-jobs.ts; by primary key, not through the
 * index of running jobs, since 20270104000000_completion_by_primary_key: see lease.ts), writes its JobsSucceeded outbox row
 * (the envelope encoded in SQL, byte for byte what buildEnvelope writes), checks the queue for
 * expired leases and runnable grouped jobs, and — when there are none — claims up to `limit`
 * ungrouped jobs (claim-jobs.ts), all as one statement, i.e. one transaction.
 *
 * Why: the same work as a client-side transaction was 6 round trips per batch (BEGIN, the
 * completion, the outbox insert, the lease sweep, the claim, COMMIT) against pg-boss's 2.
 * Measured in README "Measured" (bench:queue-peers, before/after alternated).
 *
 * `missed`: ids of `complete` the completion did not match (the caller explains them: REPEATED,
 * LEASE_LOST, NOT_FOUND). `slow`: the function stopped after the completion because expired
 * leases or grouped jobs wait; the caller claims the slow way (sweep with its JobDead events,
 * grouped claim, claim) in a transaction of its own. A `deadline` that passed when the function
 * ends raises SQLSTATE PMQ01 and nothing is written.
 */
export async function claimLean(
  db: Pool,
  args: {
    tenantId: string;
    queue: string;
    workerId: string;
    limit: number;
    leaseSeconds: number;
    /** The reply's budget (claim-jobs.ts fitCte, weight 1). */
    maxReplyBytes: number;
    complete: { jobId: string; attempt: number; output?: object }[];
    subject: string;
    trace?: { traceparent: string; tracestate?: string };
    deadline?: Date;
  },
): Promise<{ rows: LeanRow[]; missed: string[]; slow: boolean }> {
  const { rows } = await db.query<{ kind: string; id: string | null; attempts: number | null; task: string | null; payload: string | null }>({
    name: 'queue_claim_lean_fn',
    // The completions travel as text, not as arrays (joined.ts): ids (uuids, checked by the rpc
    // layer) and attempts (integers) cannot hold a comma; outputs go as one JSON array, and only
    // when a job has one (unnest pads the shorter array with NULLs; a JSON null is no output).
    text: `select kind, id, attempts, task, payload
             from pm_queue_claim_lean($1, $2, $3, $4, $5, string_to_array($6::text, ',')::uuid[], string_to_array($7::text, ',')::int[],
                                      case when $8::jsonb is null then '{}'::jsonb[]
                                           else array(select nullif(o.e, 'null'::jsonb) from jsonb_array_elements($8::jsonb) with ordinality as o(e, n) order by o.n) end,
                                      $9, $10, $11, $12, $13)`,
    values: [
      args.tenantId,
      args.queue,
      args.workerId,
      args.limit,
      args.leaseSeconds,
      joined(args.complete.map((j) => j.jobId), 'job id'),
      args.complete.map((j) => j.attempt).join(','),
      args.complete.some((j) => j.output) ? JSON.stringify(args.complete.map((j) => j.output ?? null)) : null,
      args.subject,
      args.trace?.traceparent ?? null,
      args.trace?.tracestate ?? null,
      args.deadline ?? null,
      args.maxReplyBytes,
    ],
  });
  const out: LeanRow[] = [];
  const missed: string[] = [];
  let slow = false;
  for (const r of rows) {
    if (r.kind === 'j') out.push({ id: r.id!, tenantId: args.tenantId, attempts: r.attempts!, task: r.task!, payload: r.payload! });
    else if (r.kind === 'm') missed.push(r.id!);
    else slow = true;
  }
  return { rows: out, missed, slow };
}

/** The SQLSTATE pm_queue_claim_lean raises when the call's deadline passed before it ended. */
export const DEADLINE_PASSED = 'PMQ01';
