-- Who ended the job's current attempt with CompleteJob or FailJob, so a repeat of that call
-- (the worker retrying after a lost reply) can be told from another worker or a stale attempt
-- and answered with the job instead of a lease error. locked_by cannot serve: it is cleared
-- when the attempt ends. Null while an attempt runs (the claim clears it), before the first
-- claim, and when the attempt ended because its lease expired.
-- Nullable without a default: PostgreSQL only changes the catalog, no table rewrite.
-- Never edit once applied: add a new migration folder instead.

-- AlterTable
ALTER TABLE "jobs" ADD COLUMN "ended_by" VARCHAR(200);
