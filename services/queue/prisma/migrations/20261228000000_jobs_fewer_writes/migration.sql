-- Fewer writes per job (issue 9, queue tier speed goals). Never edit once applied: add a new
-- migration folder instead. Measured with `bench:queue-peers --writes` (WAL records of the
-- bench database read back with pg_walinspect; services/queue/README.md "Measured"): before
-- this migration a processed job (claim + completion) wrote 11.3 WAL records, ~1,250 bytes —
-- as many as pg-boss 12 (11.4, ~1,230 B) —: 2 heap updates, 3 row-lock records, 6 index entries.

-- 1. Room for a job's three row versions on its page. A job is inserted once and updated twice
--    (claim, completion); neither update can be HOT (both change `status`, which index
--    predicates read), but each still goes to the same page when the page has room. With the
--    default fillfactor 100 the pages are full after the enqueue, so each update moves the row
--    to another page, and PostgreSQL then writes a row-lock WAL record for the old version
--    before it lets go of that page (heap_update): 3 lock records per job instead of the one
--    the claim's `for update skip locked` needs. fillfactor 30 leaves room for the two new
--    versions (and page pruning removes the dead ones once no snapshot needs them). The service's
--    claim and completion SQL over 10k jobs (10 rounds of 1000, psql, pg_walinspect), WAL records
--    per job: fillfactor 100 → 11.2 (3.0 locks), 70 → 10.4 (2.3), 50 → 9.7 (1.5), 30 → 9.2 (1.0). Applies to pages filled
--    from now on; pages of a table that already holds jobs keep their rows (no rewrite).
alter table jobs set (fillfactor = 30);

-- 2. The ListJobs index without running jobs: a claim no longer writes an entry in it (the claim
--    wrote 3 index entries — pkey, this one, jobs_leased_idx —, now 2). ListJobs without a
--    status reads this index and the tenant's running jobs (jobs_leased_idx, sorted; bounded by
--    the leases out) and merges the two pages (src/domain/jobs.ts, listJobs); ListJobs with
--    status = running already read jobs_leased_idx, the other statuses read this index or
--    jobs_waiting_or_ended_status_idx. (A plain, not concurrent, build: it blocks writes to jobs
--    while it builds; on a large table run this migration in a quiet window.)
drop index "jobs_tenant_id_created_id_idx";
create index jobs_not_running_created_idx on jobs (tenant_id, created, id) where status <> 'running';
