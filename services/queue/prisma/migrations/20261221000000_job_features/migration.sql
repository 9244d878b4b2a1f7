-- Job features (issue 9): concurrency groups, singleton / debounce / throttle keys, recurring
-- schedules, retention. Never edit once applied: add a new migration folder instead.
-- Dated after main's 20261220000000_outbox_trace_context so it applies in merge order.
-- New columns are nullable without defaults: PostgreSQL only changes the catalog, no rewrite.

-- AlterTable
ALTER TABLE "jobs" ADD COLUMN "group_key" VARCHAR(200),
ADD COLUMN "group_limit" INTEGER,
ADD COLUMN "singleton_key" VARCHAR(200),
ADD COLUMN "throttle_slot" TIMESTAMPTZ(6);

-- CreateTable
CREATE TABLE "schedules" (
    "id" UUID NOT NULL DEFAULT gen_random_uuid(),
    "tenant_id" UUID NOT NULL,
    "name" VARCHAR(100) NOT NULL,
    "cron" VARCHAR(200) NOT NULL,
    "time_zone" VARCHAR(100) NOT NULL,
    "queue" VARCHAR(100) NOT NULL,
    "task" VARCHAR(100) NOT NULL,
    "payload" JSONB NOT NULL DEFAULT '{}',
    "priority" INTEGER NOT NULL DEFAULT 0,
    "max_attempts" INTEGER NOT NULL DEFAULT 5,
    "next_fire_at" TIMESTAMPTZ(6) NOT NULL,
    "last_fire_at" TIMESTAMPTZ(6),
    "created" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updated" TIMESTAMPTZ(6) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "schedules_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE UNIQUE INDEX "schedules_tenant_id_name_key" ON "schedules"("tenant_id", "name");

-- CreateIndex
CREATE INDEX "schedules_next_fire_at_idx" ON "schedules"("next_fire_at");

-- CreateIndex
CREATE INDEX "schedules_tenant_id_created_id_idx" ON "schedules"("tenant_id", "created", "id");

-- ---------------------------------------------------------------------------------------
-- Not expressible in schema.prisma (see ../../migration-only.json).

alter table jobs add constraint jobs_group_limit_check check (group_limit between 1 and 1000);
alter table schedules add constraint schedules_priority_check check (priority between -1000 and 1000);
alter table schedules add constraint schedules_max_attempts_check check (max_attempts between 1 and 100);

-- The claim index now holds only UNGROUPED runnable jobs, and the ungrouped claim says
-- `group_key is null`: its plan (index scan in claim order, no sort) and cost are those of
-- before. Grouped jobs wait in their own index, in group order, read only by the grouped
-- claim (src/db/claim-grouped-jobs.ts) — a queue whose jobs carry no group key has an empty
-- one, so the probe for grouped work is one index descent.
-- (A plain, not concurrent, rebuild: it blocks writes to jobs while it builds; on a large
-- table run this migration in a quiet window.)
drop index jobs_runnable_idx;
create index jobs_runnable_idx on jobs (tenant_id, queue, priority desc, run_at, id)
  where status in ('queued', 'failed') and group_key is null;
create index jobs_grouped_runnable_idx on jobs (tenant_id, queue, group_key, priority desc, run_at, id)
  where status in ('queued', 'failed') and group_key is not null;
-- Running jobs per group (the grouped claim counts them after locking the group); only
-- grouped jobs enter it, so ungrouped claims and completions never write to it.
create index jobs_group_running_idx on jobs (tenant_id, queue, group_key, locked_until)
  where status = 'running' and group_key is not null;

-- singleton_key: at most one WAITING job (queued and never claimed: attempts = 0) per key. A
-- job RetryJob puts back (attempts > 0) does not count, so it never collides with a newer one.
create unique index jobs_singleton_key_idx on jobs (tenant_id, queue, singleton_key)
  where singleton_key is not null and throttle_slot is null and status = 'queued' and attempts = 0;
-- throttle_seconds: at most one job per key per window (throttle_slot = the window's start).
create unique index jobs_throttle_key_idx on jobs (tenant_id, queue, singleton_key, throttle_slot)
  where throttle_slot is not null;

-- Retention (src/db/delete-finished-jobs.ts): finished jobs in order of `finished`. Only
-- finished rows enter it (one index insert when a job finishes; none on claim).
create index jobs_finished_idx on jobs (finished)
  where status in ('succeeded', 'dead', 'cancelled');
