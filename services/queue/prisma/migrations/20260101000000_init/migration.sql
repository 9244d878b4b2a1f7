-- The queue tier's first schema: jobs, their logs, and the outbox. The tables follow
-- schema.prisma (Prisma's `migrate diff --from-empty` layout); the objects Prisma cannot express
-- are at the end and listed in ../../migration-only.json.
-- Never edit once applied: add a new migration folder instead.

-- CreateTable
CREATE TABLE "jobs" (
    "id" UUID NOT NULL DEFAULT gen_random_uuid(),
    "tenant_id" UUID NOT NULL,
    "queue" VARCHAR(100) NOT NULL,
    "task" VARCHAR(100) NOT NULL,
    "payload" JSONB NOT NULL DEFAULT '{}',
    "status" VARCHAR(50) NOT NULL DEFAULT 'queued',
    "priority" INTEGER NOT NULL DEFAULT 0,
    "run_at" TIMESTAMPTZ(6) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "attempts" INTEGER NOT NULL DEFAULT 0,
    "max_attempts" INTEGER NOT NULL DEFAULT 5,
    "locked_by" VARCHAR(200),
    "locked_until" TIMESTAMPTZ(6),
    "idempotency_key" VARCHAR(200),
    "last_error" TEXT,
    "created" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updated" TIMESTAMPTZ(6) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "finished" TIMESTAMPTZ(6),

    CONSTRAINT "jobs_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "job_logs" (
    "id" UUID NOT NULL DEFAULT gen_random_uuid(),
    "job_id" UUID NOT NULL,
    "tenant_id" UUID NOT NULL,
    "attempt" INTEGER NOT NULL DEFAULT 0,
    "level" VARCHAR(10) NOT NULL DEFAULT 'info',
    "message" TEXT NOT NULL,
    "data" JSONB,
    "created" TIMESTAMPTZ(3) NOT NULL DEFAULT clock_timestamp(),

    CONSTRAINT "job_logs_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE INDEX "jobs_tenant_id_created_id_idx" ON "jobs"("tenant_id", "created", "id");

-- CreateIndex
CREATE INDEX "jobs_tenant_id_status_created_id_idx" ON "jobs"("tenant_id", "status", "created", "id");

-- CreateIndex
CREATE UNIQUE INDEX "jobs_tenant_id_queue_idempotency_key_key" ON "jobs"("tenant_id", "queue", "idempotency_key");

-- CreateIndex
CREATE INDEX "job_logs_job_id_created_id_idx" ON "job_logs"("job_id", "created", "id");

-- AddForeignKey
ALTER TABLE "job_logs" ADD CONSTRAINT "job_logs_job_id_fkey" FOREIGN KEY ("job_id") REFERENCES "jobs"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- ---------------------------------------------------------------------------------------
-- Not expressible in schema.prisma (see ../../migration-only.json).

ALTER TABLE "jobs" ADD CONSTRAINT "jobs_status_check"
    CHECK ("status" IN ('queued', 'running', 'succeeded', 'failed', 'dead', 'cancelled'));
ALTER TABLE "jobs" ADD CONSTRAINT "jobs_priority_check" CHECK ("priority" BETWEEN -1000 AND 1000);
ALTER TABLE "jobs" ADD CONSTRAINT "jobs_attempts_check" CHECK ("attempts" >= 0);
ALTER TABLE "jobs" ADD CONSTRAINT "jobs_max_attempts_check" CHECK ("max_attempts" BETWEEN 1 AND 100);
ALTER TABLE "job_logs" ADD CONSTRAINT "job_logs_level_check" CHECK ("level" IN ('debug', 'info', 'warn', 'error'));

-- The claim index. Partial: only runnable rows (queued, or failed awaiting a retry) are in it,
-- so it stays as small as the backlog however many finished jobs the table holds, and its key
-- is exactly the claim's equality + order (tenant, queue, priority desc, run_at, id): the claim
-- reads the first N entries with run_at <= now() and stops (see src/db/claim-jobs.ts for the
-- EXPLAIN this was chosen with).
CREATE INDEX "jobs_runnable_idx" ON "jobs" ("tenant_id", "queue", "priority" DESC, "run_at", "id")
    WHERE "status" IN ('queued', 'failed');

-- Leases to reclaim: only running rows, found by the claim's lease sweep.
CREATE INDEX "jobs_leased_idx" ON "jobs" ("tenant_id", "queue", "locked_until")
    WHERE "status" = 'running';

-- The transactional outbox, verbatim from the service kit: one row per event, written in the
-- transaction of the change it announces, relayed to JetStream by OutboxRelay.
create table outbox_events (
  id uuid primary key,
  tenant_id uuid not null,
  subject varchar(255) not null,
  event_type varchar(200) not null,
  payload bytea not null,
  created timestamptz not null default now(),
  published timestamptz,
  attempts integer not null default 0,
  last_error text
);
create index outbox_events_unpublished_idx on outbox_events (created) where published is null;
create function pm_outbox_notify() returns trigger language plpgsql as $$ begin perform pg_notify('pm_outbox', ''); return null; end $$;
create trigger outbox_events_notify after insert on outbox_events for each statement execute function pm_outbox_notify();
