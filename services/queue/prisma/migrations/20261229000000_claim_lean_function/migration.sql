-- The lean ack-and-fetch ClaimJobs in ONE round trip (issue 9, queue tier speed goals). Never
-- edit once applied: add a new migration folder instead.
--
-- Before: one lean ClaimJobs { complete: previous } was a transaction of 6 round trips —
-- BEGIN, the completion UPDATE, the JobsSucceeded outbox INSERT, the lease sweep, the claim,
-- COMMIT — against pg-boss's 2 (fetch, complete). pm_queue_claim_lean runs the same statements
-- server-side, as ONE statement (its own transaction): each statement of a volatile plpgsql
-- function takes a fresh snapshot (READ COMMITTED), so the rules are those of the transaction
-- it replaces (services/queue/src/domain/jobs.ts claimFast):
--   1. completion of the previous batch, fenced per job by worker + attempt (complete-jobs.ts);
--   2. its JobsSucceeded outbox row, the EventEnvelope encoded here (pm_queue_jobs_succeeded_envelope)
--      since the rows it lists are known only inside the statement;
--   3. the lease sweep's question: are there expired leases (or runnable jobs of concurrency
--      groups) in the queue? If so the function stops after step 2 and says so (kind 's'):
--      the service runs the sweep (with its JobDead events built by the service), the grouped
--      claim and the claim as before, in a second transaction. Both are rare on the hot path;
--   4. the ungrouped claim (claim-jobs.ts), lean columns, in claim order.
-- A deadline (p_deadline, the gRPC call's) passed at the end raises SQLSTATE PMQ01: the whole
-- statement rolls back, as withTransaction rolls back a transaction whose call timed out.

-- A protobuf varint (non-negative values). Not STRICT, one CASE expression: PostgreSQL inlines
-- it into the calling query (a STRICT or multi-clause SQL function would be called per row
-- through the SQL-function executor: 1000 SucceededJob entries took ~600 ms that way, against
-- a few ms inlined). Lengths and attempts (< 16384) take the inlined branches; the general
-- loop is for timestamps (once per batch).
create function pm_queue_pb_varint_loop(v bigint) returns bytea
  language plpgsql immutable parallel safe as $$
declare
  r bytea := '';
begin
  while v >= 128 loop
    r := r || set_byte('\x00'::bytea, 0, ((v & 127) | 128)::int);
    v := v >> 7;
  end loop;
  return r || set_byte('\x00'::bytea, 0, v::int);
end $$;

create function pm_queue_pb_varint(v bigint) returns bytea
  language sql immutable parallel safe as $$
  select case
    when v < 128 then set_byte('\x00'::bytea, 0, v::int)
    when v < 16384 then set_byte(set_byte('\x0000'::bytea, 0, ((v & 127) | 128)::int), 1, (v >> 7)::int)
    else pm_queue_pb_varint_loop(v)
  end
$$;

-- A length-delimited protobuf field (tag byte = field << 3 | 2); proto3 leaves an empty one out.
create function pm_queue_pb_bytes(tag int, b bytea) returns bytea
  language sql immutable parallel safe as $$
  select case when octet_length(b) = 0 then ''::bytea
              else set_byte('\x00'::bytea, 0, tag) || pm_queue_pb_varint(octet_length(b)) || b end
$$;

-- A google.protobuf.Timestamp at millisecond precision, as the service's JS Dates encode it
-- (ts-proto: seconds = trunc(ms / 1000), nanos = ms % 1000 · 10^6; zero fields left out).
create function pm_queue_pb_timestamp(t timestamptz) returns bytea
  language plpgsql immutable parallel safe as $$
declare
  ms bigint := floor(extract(epoch from t) * 1000)::bigint;
begin
  return (case when ms / 1000 = 0 then ''::bytea else '\x08'::bytea || pm_queue_pb_varint(ms / 1000) end)
      || (case when ms % 1000 = 0 then ''::bytea else '\x10'::bytea || pm_queue_pb_varint((ms % 1000) * 1000000) end);
end $$;

-- The penguinmails.common.v1.EventEnvelope of one JobsSucceeded, byte for byte what the
-- service's buildEnvelope writes (fields in number order, empty ones left out).
-- jobs: the encoded `repeated SucceededJob jobs = 1` entries, concatenated. Once per batch.
create function pm_queue_jobs_succeeded_envelope(event_id uuid, tenant uuid, occurred timestamptz, jobs bytea) returns bytea
  language plpgsql immutable parallel safe as $$
begin
  return pm_queue_pb_bytes(10, convert_to(event_id::text, 'UTF8'))
      || pm_queue_pb_bytes(18, convert_to(tenant::text, 'UTF8'))
      || pm_queue_pb_bytes(26, convert_to('penguinmails.queue.v1.JobsSucceeded', 'UTF8'))
      || pm_queue_pb_bytes(34, pm_queue_pb_timestamp(occurred))
      || pm_queue_pb_bytes(42, convert_to('queue', 'UTF8'))
      || pm_queue_pb_bytes(50, jobs);
end $$;

-- Rows: kind 'm' = a job of p_ids the completion did not match (id only; the service explains
-- it: REPEATED, LEASE_LOST or NOT_FOUND); kind 's' = stopped before the claim (expired leases or
-- grouped jobs wait: the service claims the slow way); kind 'j' = a claimed job, in claim order.
create function pm_queue_claim_lean(
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
  p_deadline timestamptz
) returns table (kind text, id uuid, attempts int, task varchar, payload text)
  language plpgsql volatile
  -- Plan every statement with the call's values, as the named statements it replaces were
  -- (pg_prepared_statements: custom plans only). plpgsql caches its statements' plans and after
  -- five calls may switch to a generic plan: on a freshly filled backlog (no ANALYZE yet) that
  -- plan took 190-310 ms per call (complete 1000 + claim 1000) against 30-65 ms custom (psql,
  -- 20k jobs, load ~8).
  set plan_cache_mode = force_custom_plan
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
         and jobs.status = 'running' and jobs.locked_by = p_worker and jobs.attempts = i.attempt
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
        select r.id
          from jobs r
         where r.tenant_id = p_tenant
           and r.queue = p_queue
           and r.status in ('queued', 'failed')
           and r.group_key is null
           and r.run_at <= now()
         order by r.priority desc, r.run_at, r.id
         limit p_limit
           for update skip locked
      ), claimed as (
        update jobs
           set status = 'running',
               attempts = jobs.attempts + 1,
               locked_by = p_worker,
               locked_until = now() + make_interval(secs => p_lease_seconds),
               ended_by = null,
               updated = now()
          from runnable
         where jobs.id = runnable.id
        returning jobs.id, jobs.attempts, jobs.task, jobs.payload::text as payload, jobs.priority, jobs.run_at
      )
      select 'j'::text, c.id, c.attempts, c.task, c.payload from claimed c order by c.priority desc, c.run_at, c.id;
  end if;

  if p_deadline is not null and clock_timestamp() > p_deadline then
    raise exception 'the deadline passed before the claim could commit; nothing was written'
      using errcode = 'PMQ01';
  end if;
end $$;
