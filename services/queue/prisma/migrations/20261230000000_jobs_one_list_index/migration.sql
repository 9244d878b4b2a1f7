-- One ListJobs index instead of two. Every queued job had an entry in both
-- jobs_not_running_created_idx (tenant_id, created, id) and jobs_waiting_or_ended_status_idx
-- (tenant_id, status, created, id): 4 index entries per enqueued job (with the pkey and
-- jobs_runnable_idx), the heaviest part of an enqueue's WAL after the row itself (~110 bytes per
-- entry). One index on (tenant_id, status, created, id) over every status but running serves
-- both listings: ListJobs with a status reads its range directly (succeeded included, where it
-- skipped the few unfinished rows before); ListJobs without a status reads one range per status
-- (six `order by created desc limit n` index scans, merged: src/domain/jobs.ts listJobs) instead
-- of one range over all statuses. An enqueue writes 3 entries (pkey, runnable, this), a
-- completion 3 as before (pkey, this, jobs_finished_idx), a retryable failure 1 here instead of 2.
-- Measured in services/queue/README.md, "Measured".
drop index if exists jobs_not_running_created_idx;
drop index if exists jobs_waiting_or_ended_status_idx;
create index if not exists jobs_status_created_idx on jobs (tenant_id, status, created, id)
  where status <> 'running';
