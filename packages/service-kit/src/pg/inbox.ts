import type { Pool, PoolClient } from 'pg';

/**
 * The consumer side of exactly-once: JetStream delivers at least once, so a PostgreSQL consumer
 * records each event id it handled in `consumed_events` in the same transaction as its effect.
 * Returns the ids of `eventIds` not handled before: apply only those. The DDL every consuming
 * service adds to its migrations:
 *
 *   create table consumed_events (
 *     consumer varchar(100) not null, event_id uuid not null,
 *     consumed timestamptz not null default now(), primary key (consumer, event_id));
 */
export async function firstSeen(client: PoolClient, consumer: string, eventIds: string[]): Promise<Set<string>> {
  if (eventIds.length === 0) return new Set();
  const { rows } = await client.query<{ event_id: string }>(
    `insert into consumed_events (consumer, event_id)
     select $1, id from unnest($2::uuid[]) as t(id)
     on conflict do nothing
     returning event_id`,
    [consumer, eventIds],
  );
  return new Set(rows.map((r) => r.event_id));
}

/**
 * Forgets handled ids older than `olderThanMs`: once an event has aged out of its stream
 * (EVENTS_MAX_AGE_MS) it cannot be redelivered, so its id need not be kept.
 */
export async function pruneConsumedEvents(pool: Pool, olderThanMs: number): Promise<number> {
  const res = await pool.query(`delete from consumed_events where consumed < now() - make_interval(secs => $1)`, [olderThanMs / 1000]);
  return res.rowCount ?? 0;
}
