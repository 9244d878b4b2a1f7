-- Fewer index entries per job. Every claim (queued → running) and every completion (running →
-- succeeded) changes `status`, which partial index predicates read, so no such update can be HOT
-- (pg_stat_user_tables after 1000 claims + 1000 completions: n_tup_upd 2000, n_tup_hot_upd 0;
-- a fillfactor does not change that, and 60/75 measured no faster than 100): each writes an
-- entry in every index whose predicate the new row version satisfies. Before this migration a
-- claim wrote 5 (pkey, (tenant, created, id), (tenant, status, created, id), the idempotency
-- key, jobs_leased_idx) and a completion 5 (the same four, jobs_finished_idx); after it 3 and
-- 3, and a keyless enqueue 4 instead of 5. EXPLAIN (ANALYZE, WAL) per 1000 jobs, WAL records:
-- insert 6.05k → 5.04k, claim 8.1k → 6.05k, completion 7.1k → 5.1k (services/queue/README.md,
-- "Measured"). The two avoidable ones:

-- 1. The idempotency key's unique index held every job, also keyless ones (NULLs are indexed),
--    so every insert, claim and completion wrote an entry in it. Only keyed jobs now; the
--    enqueue statements name the predicate in their `on conflict` target.
drop index "jobs_tenant_id_queue_idempotency_key_key";
create unique index jobs_idempotency_key_idx on jobs (tenant_id, queue, idempotency_key)
  where idempotency_key is not null;

-- 2. ListJobs by status: succeeded jobs (nearly every row) and running jobs leave this index,
--    so neither a claim nor a completion writes an entry here. ListJobs with status = succeeded
--    reads (tenant_id, created, id) and skips the few unfinished rows; status = running reads
--    jobs_leased_idx (the running jobs of the tenant: bounded by the leases out, sorted); every
--    other status reads this one (the kit's listPage sends unnamed statements, planned with the
--    status value, so the planner proves `status = 'queued'` implies the predicate).
drop index "jobs_tenant_id_status_created_id_idx";
create index jobs_waiting_or_ended_status_idx on jobs (tenant_id, status, created, id)
  where status not in ('succeeded', 'running');
