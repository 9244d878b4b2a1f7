-- Backlog for claim-complete.pgbench: 100k succeeded jobs (what a week of retention keeps) and 60k
-- runnable ones of one tenant's queue, vacuumed. Run in a database migrated with services/queue's migrations.
truncate jobs cascade;
insert into jobs (id, tenant_id, queue, task, payload, priority, run_at, max_attempts, status, finished)
  select gen_random_uuid(), '11111111-1111-1111-1111-111111111111', 'q', 'noop', '{"n":1,"to":"someone@example.com"}', 0, now() - interval '1 h', 5, 'succeeded', now() - interval '1 h' from generate_series(1,100000);
insert into jobs (id, tenant_id, queue, task, payload, priority, run_at, max_attempts)
  select gen_random_uuid(), '11111111-1111-1111-1111-111111111111', 'q', 'noop', '{"n":1,"to":"someone@example.com"}', 0, now() - interval '1 s', 5 from generate_series(1,60000);
vacuum analyze jobs;
