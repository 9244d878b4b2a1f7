-- Holds (HoldJobs / ReleaseJobs, and the tier's own hold of `campaign:<id>` while a campaign is
-- not ACTIVE): a job enqueued with a hold_key waits as HELD while its key is held. HELD is out
-- of every claim index (they cover queued and failed only), so a held backlog costs claims
-- nothing — a filter in the claim would have made every claim walk past it.
--
-- How a hold and the paths that make a job runnable agree without a gap (src/db/holds.ts):
--  * job_holds has one row per (tenant, key) ever used; `held` says whether it holds now.
--  * Every statement that makes a job with a hold key runnable (enqueue, a failed attempt's
--    retry, an expired lease, RetryJob) asks pm_queue_hold_status, which reads the key's row
--    FOR SHARE (creating it, not held, on first use). It gets 'held' or the runnable status.
--  * HoldJobs / ReleaseJobs first update the key's row (waiting for those share locks, so for
--    the statements in flight to commit), then, in a new statement whose snapshot sees what
--    they committed, move the key's runnable jobs to held (or held jobs to queued). A statement
--    that comes after the row update waits on it and then reads the new `held`.
-- So once HoldJobs commits, no job of the key is left runnable, and once ReleaseJobs commits,
-- none is left held.

alter table jobs add column hold_key varchar(200);

-- The new status. NOT VALID then VALIDATE: the check is re-proved with a scan that does not
-- block writes (SHARE UPDATE EXCLUSIVE), not under the ACCESS EXCLUSIVE lock of ADD CONSTRAINT.
alter table jobs drop constraint jobs_status_check;
alter table jobs add constraint jobs_status_check
  check (status in ('queued', 'running', 'succeeded', 'failed', 'dead', 'cancelled', 'held')) not valid;
alter table jobs validate constraint jobs_status_check;

create table job_holds (
  tenant_id uuid not null,
  hold_key varchar(200) not null,
  held boolean not null default false,
  -- The JetStream stream sequence of the CampaignStatusChanged that set `held` last (the
  -- tier's consumer); null when only HoldJobs / ReleaseJobs set it. A redelivered older event
  -- does not undo a newer one.
  source_seq bigint,
  updated timestamptz(6) not null default current_timestamp,
  constraint job_holds_pkey primary key (tenant_id, hold_key)
);

-- A key's waiting jobs, for HoldJobs / ReleaseJobs. Only jobs with a key enter it, and only
-- while they wait, so keyless jobs (and every claim and completion of them) never write to it.
-- (A plain build: the new column is null everywhere, so it indexes nothing and is quick.)
create index jobs_hold_key_idx on jobs (tenant_id, hold_key)
  where hold_key is not null and status in ('queued', 'failed', 'held');

-- A held singleton job still waits: it keeps its key, so an enqueue while it is held answers
-- it (EXISTING, or DEBOUNCED replaces its payload) instead of adding a second one.
drop index jobs_singleton_key_idx;
create unique index jobs_singleton_key_idx on jobs (tenant_id, queue, singleton_key)
  where singleton_key is not null and throttle_slot is null and status in ('queued', 'held') and attempts = 0;

-- 'held' when the key is held, else `runnable`. Reads the key's row FOR SHARE (see above), so
-- it must be called in the statement that writes the job's status, not before it. VOLATILE:
-- each of its statements takes a new snapshot, so after waiting for a HoldJobs / ReleaseJobs
-- it reads what that committed.
create function pm_queue_hold_status(p_tenant uuid, p_key varchar, p_runnable varchar) returns varchar
  language plpgsql volatile
  as $$
declare
  v_held boolean;
begin
  select h.held into v_held from job_holds h where h.tenant_id = p_tenant and h.hold_key = p_key for share;
  if not found then
    insert into job_holds (tenant_id, hold_key) values (p_tenant, p_key) on conflict do nothing;
    select h.held into v_held from job_holds h where h.tenant_id = p_tenant and h.hold_key = p_key for share;
  end if;
  return case when v_held then 'held' else p_runnable end;
end $$;
