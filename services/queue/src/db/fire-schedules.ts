import type { PoolClient } from 'pg';

/**
 * One statement for a batch of fires: enqueues each schedule's job template with the fire's
 * idempotency key (`schedule:<id>:<fire time ISO>`, `on conflict do nothing`: a fire is one job
 * even if two schedulers got here), and moves each schedule to its next fire. Runs in the
 * transaction that locked the schedules (lock-due-schedules.ts), so the job and the schedule's
 * new next_fire_at commit together: a crash in between loses or repeats nothing.
 * Returns how many jobs were enqueued.
 */
export async function fireSchedules(
  db: PoolClient,
  fires: { scheduleId: string; fireAt: Date; nextFireAt: Date; key: string }[],
): Promise<number> {
  const { rows } = await db.query<{ enqueued: number }>({
    name: 'queue_fire_schedules',
    text: `with f as (
       select * from unnest($1::uuid[], $2::timestamptz[], $3::timestamptz[], $4::varchar[]) as f(id, fire_at, next_fire_at, key)
     ), enqueued as (
       insert into jobs (tenant_id, queue, task, payload, priority, run_at, max_attempts, idempotency_key, hold_key, status)
       select s.tenant_id, s.queue, s.task, s.payload, s.priority, now(), s.max_attempts, f.key, s.hold_key,
              -- HELD while the schedule's hold key is held (db/holds.ts); its job_holds row exists
              -- since the schedule was given the key (domain/schedules.ts), so this only reads it.
              case when s.hold_key is null then 'queued' else pm_queue_hold_status(s.tenant_id, s.hold_key, 'queued') end
         from f join schedules s on s.id = f.id
       on conflict do nothing
       returning id
     ), moved as (
       update schedules s set next_fire_at = f.next_fire_at, last_fire_at = f.fire_at, updated = now()
         from f where s.id = f.id
       returning s.id
     )
     select (select count(*) from enqueued)::int as enqueued, (select count(*) from moved)::int as moved`,
    values: [fires.map((f) => f.scheduleId), fires.map((f) => f.fireAt), fires.map((f) => f.nextFireAt), fires.map((f) => f.key)],
  });
  return rows[0]?.enqueued ?? 0;
}
