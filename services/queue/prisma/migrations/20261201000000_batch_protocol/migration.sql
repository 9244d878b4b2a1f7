-- The batch worker protocol (EnqueueJobs / CompleteJobs / FailJobs, ClaimJobs with wait_ms).
-- Never edit once applied: add a new migration folder instead.

-- A job's result, as the worker's CompleteJob(s) gave it (Job.output). Nullable without a
-- default: PostgreSQL only changes the catalog, no table rewrite; finished jobs of before keep none.
-- AlterTable
ALTER TABLE "jobs" ADD COLUMN "output" JSONB;

-- ---------------------------------------------------------------------------------------
-- Not expressible in schema.prisma (see ../../migration-only.json).

-- Wakes long-polling claimers (ClaimJobs wait_ms) when jobs are enqueued: one pg_notify per
-- distinct (tenant, queue) of the inserting STATEMENT (a transition table), not per row, so an
-- EnqueueJobs of 1000 jobs of one queue sends one notification; PostgreSQL folds identical
-- notifications of one transaction into one as well. Payload `<tenant_id> <queue>`; each
-- queue process LISTENs on one connection and fans out in-process (src/domain/wake-ups.ts).
-- Jobs scheduled for later (run_at in the future) wake nobody: the waiters' fallback poll
-- finds them. Retries made runnable by RetryJob notify from their own statement.
-- The outbox trigger (outbox_events_notify, 20260101000000_init) is already FOR EACH STATEMENT,
-- i.e. one NOTIFY per outbox insert statement, and a CompleteJobs batch writes one outbox
-- statement: it is left as it is.
create function pm_queue_jobs_notify() returns trigger language plpgsql as $$
begin
  perform pg_notify('pm_queue_jobs', k)
     from (select distinct tenant_id::text || ' ' || queue as k from new_jobs where run_at <= now()) d;
  return null;
end $$;
create trigger jobs_runnable_notify after insert on jobs
  referencing new table as new_jobs
  for each statement execute function pm_queue_jobs_notify();
