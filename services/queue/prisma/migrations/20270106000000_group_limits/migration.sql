-- Group limits set per tenant, queue and group instead of on each job (SetGroupLimit /
-- ListGroupLimits). Never edit once applied: add a new migration folder instead.
--
-- One row per setting; group_key '' is the queue's default for every group without a row of its
-- own (a job's group_key is never empty: the rpc layer refuses it, and an unset one is null). The
-- grouped claim (src/db/claim-grouped-jobs.ts, lockRunnableGroups) reads the group's row and the
-- queue's default by primary key, once per candidate group: nothing else reads or writes this
-- table, so ungrouped claims, completions and enqueues cost what they did.
create table group_limits (
  tenant_id uuid not null,
  queue varchar(100) not null,
  group_key varchar(200) not null,
  max_running integer not null,
  updated timestamptz(6) not null default current_timestamp,
  constraint group_limits_pkey primary key (tenant_id, queue, group_key),
  constraint group_limits_max_running_check check (max_running between 1 and 1000)
);
