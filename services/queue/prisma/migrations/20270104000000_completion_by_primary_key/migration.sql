-- Completions by primary key (issue 9). The completion inside the lean claim function
-- (`update jobs … from unnest(p_ids, …) where jobs.id = i.id and jobs.status = 'running' …`)
-- was planned from statistics that count almost no running jobs (ANALYZE runs while jobs wait
-- or are done; in a burst of claims the running ones are new): rows=1 estimated for the partial
-- index jobs_leased_idx (where status = 'running'), so PostgreSQL scanned EVERY running job of
-- the tenant through that index to hash-join the batch's ids (or, with hash joins off, looped
-- over them once per id). Its cost grew with the number of jobs running, not with the batch:
-- with 4 workers holding 1000 jobs each, completing 1000 took 43 ms instead of ~12 ms (psql,
-- 100k jobs), and the more workers the more each completion read.
--
-- The status test is now written as a `case`, which the planner cannot use to prove a partial
-- index's predicate, so no partial index on running jobs is a candidate. That alone left a seq
-- scan of jobs hash-joined to the batch as the cheapest plan by the planner's costs whenever
-- the table was never analyzed or a few times the batch (random_page_cost 4 against probes that
-- hit cached pages): in the bench, one worker's PostgreSQL time per job rose from ~30 to ~45 µs.
-- So the function also rules out seq scans, hash joins and merge joins: each id of the batch is
-- one probe of jobs_pkey, O(batch) on any table. Same rows updated, same fencing (status
-- running, this worker, this attempt: the `case` is null, i.e. false, for any other status).
-- Measured with bench:queue-peers (bench/README.md). The rest of the function is
-- 20270102000000_claim_reply_budget's, unchanged; the 12-argument overload stays as it was
-- (replicas of an older version), to be dropped with it.

create or replace function pm_queue_claim_lean(
  p_tenant uuid,
  p_queue varchar,
  p_worker varchar,
  p_limit int,
  p_lease_seconds double precision,
  p_ids uuid[],
  p_attempts int[],
  p_outputs jsonb[],
  p_subject varchar,
  p_traceparent text,
  p_tracestate text,
  p_deadline timestamptz,
  p_max_bytes bigint
) returns table (kind text, id uuid, attempts int, task varchar, payload text)
  language plpgsql volatile
  -- Plan every statement with the call's values, as the named statements it replaces were
  -- (pg_prepared_statements: custom plans only). plpgsql caches its statements' plans and after
  -- five calls may switch to a generic plan: on a freshly filled backlog (no ANALYZE yet) that
  -- plan took 190-310 ms per call (complete 1000 + claim 1000) against 30-65 ms custom (psql,
  -- 20k jobs, load ~8).
  set plan_cache_mode = force_custom_plan
  -- The completion probes jobs_pkey once per id of the batch, whatever the statistics say (see
  -- the header): no seq scan, hash join or merge join over jobs. The function's other statements
  -- use their indexes with or without these settings.
  set enable_seqscan = off
  set enable_hashjoin = off
  set enable_mergejoin = off
  as $$
#variable_conflict use_column
declare
  v_missed uuid[];
  -- SucceededJob.finished (field 5), the same for the whole batch: now(), the completion's time.
  v_finished bytea := pm_queue_pb_bytes(42, pm_queue_pb_timestamp(now()));
begin
  if cardinality(p_ids) > 0 then
    with done as (
      update jobs
         set status = 'succeeded', finished = now(), locked_by = null, locked_until = null,
             ended_by = p_worker, output = i.output, updated = now()
        from unnest(p_ids, p_attempts, p_outputs) as i(id, attempt, output)
       where jobs.id = i.id
         and jobs.tenant_id = p_tenant
         -- `case`, not `jobs.status = 'running' and …`: see the header (no partial index on
         -- running jobs may drive this update).
         and case jobs.status when 'running' then jobs.locked_by = p_worker and jobs.attempts = i.attempt end
      returning jobs.id, jobs.queue, jobs.task, jobs.attempts
    ), event as (
      -- One SucceededJob per completed job (field 1 of JobsSucceeded): id (36 bytes), queue,
      -- task, attempts, finished — all inlined builtins. queue and task are never empty (the
      -- service refuses empty names) and attempts is >= 1 once claimed, so no field is left out.
      insert into outbox_events (id, tenant_id, subject, event_type, payload, traceparent, tracestate)
      select e.id, p_tenant, p_subject, 'penguinmails.queue.v1.JobsSucceeded',
             pm_queue_jobs_succeeded_envelope(e.id, p_tenant, now(), e.jobs), p_traceparent, p_tracestate
        from (select gen_random_uuid() as id, string_agg(x.entry, ''::bytea) as jobs
                from (select '\x0a'::bytea || pm_queue_pb_varint(octet_length(y.m)) || y.m as entry
                        from (select '\x0a24'::bytea || convert_to(d.id::text, 'UTF8')
                                  || '\x12'::bytea || pm_queue_pb_varint(octet_length(d.queue)) || convert_to(d.queue, 'UTF8')
                                  || '\x1a'::bytea || pm_queue_pb_varint(octet_length(d.task)) || convert_to(d.task, 'UTF8')
                                  || '\x20'::bytea || pm_queue_pb_varint(d.attempts)
                                  || v_finished as m
                                from done d
                              offset 0) y) x) e
       where e.jobs is not null
    )
    select array(select i.id from unnest(p_ids) as i(id) where i.id not in (select d.id from done d))
      into v_missed;
    return query select 'm'::text, m.id, null::int, null::varchar, null::text from unnest(v_missed) as m(id);
  end if;

  if exists (select 1 from jobs
              where jobs.tenant_id = p_tenant and jobs.queue = p_queue
                and jobs.status = 'running' and jobs.locked_until <= now())
     or exists (select 1 from jobs
                 where jobs.tenant_id = p_tenant and jobs.queue = p_queue
                   and jobs.status in ('queued', 'failed') and jobs.group_key is not null and jobs.run_at <= now()) then
    return query select 's'::text, null::uuid, null::int, null::varchar, null::text;
  else
    return query
      with runnable as (
        select r.id, r.priority, r.run_at, octet_length(r.payload::text) + octet_length(r.task) as bytes
          from jobs r
         where r.tenant_id = p_tenant
           and r.queue = p_queue
           and r.status in ('queued', 'failed')
           and r.group_key is null
           and r.run_at <= now()
         order by r.priority desc, r.run_at, r.id
         limit p_limit
           for update skip locked
      ), fit as (
        select f.id from (
          select c.id, row_number() over w as n, sum(c.bytes::bigint + 512) over w as total
            from runnable c
          window w as (order by c.priority desc, c.run_at, c.id)
        ) f
       where f.n = 1 or f.total <= p_max_bytes
      ), claimed as (
        update jobs
           set status = 'running',
               attempts = jobs.attempts + 1,
               locked_by = p_worker,
               locked_until = now() + make_interval(secs => p_lease_seconds),
               ended_by = null,
               updated = now()
          from fit
         where jobs.id = fit.id
        returning jobs.id, jobs.attempts, jobs.task, jobs.payload::text as payload, jobs.priority, jobs.run_at
      )
      select 'j'::text, c.id, c.attempts, c.task, c.payload from claimed c order by c.priority desc, c.run_at, c.id;
  end if;

  if p_deadline is not null and clock_timestamp() > p_deadline then
    raise exception 'the deadline passed before the claim could commit; nothing was written'
      using errcode = 'PMQ01';
  end if;
end $$;
