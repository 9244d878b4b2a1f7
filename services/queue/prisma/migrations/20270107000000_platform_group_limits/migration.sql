-- A queue's group limit for every tenant at once (SetGroupLimit with an empty tenant_id, by a
-- token with service scope). Never edit once applied: add a new migration folder instead.
--
-- One row per queue: the limit of each concurrency group of that queue, in every tenant, that has
-- neither a setting of its own nor a queue default of its tenant (group_limits). Per queue only:
-- group keys are a tenant's own names (a mailbox id), so a platform-wide setting of one key would
-- mean different groups in different tenants. The grouped claim (src/db/claim-grouped-jobs.ts,
-- groupLimitSql) reads the claimed queue's row at most once per claim statement (an uncorrelated
-- subquery of the queue parameter), and only for groups whose tenant has no row of its own.
create table platform_group_limits (
  queue varchar(100) not null,
  max_running integer not null,
  updated timestamptz(6) not null default current_timestamp,
  constraint platform_group_limits_pkey primary key (queue),
  constraint platform_group_limits_max_running_check check (max_running between 1 and 1000)
);
