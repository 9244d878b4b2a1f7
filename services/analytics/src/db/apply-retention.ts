import type { Store } from './client';

export interface Retention {
  /** ANALYTICS_RAW_TTL_DAYS: events rows older than this (by occurred_at) are deleted, and the minute rollups' minutes; 0 = keep. */
  rawDays: number;
  /** ANALYTICS_ROLLUP_TTL_DAYS: rollup hours older than this are deleted; 0 = keep. */
  rollupDays: number;
}

const TABLES: { table: string; time: string; kind: keyof Retention }[] = [
  { table: 'events', time: 'toDateTime(occurred_at)', kind: 'rawDays' },
  // The writer's index of stored ids lives as long as the events it indexes (a redelivery of
  // an event past the raw TTL is then new again: stated in the README).
  { table: 'event_keys', time: 'toDateTime(occurred_at)', kind: 'rawDays' },
  { table: 'campaign_hourly', time: 'hour', kind: 'rollupDays' },
  { table: 'mailbox_hourly', time: 'hour', kind: 'rollupDays' },
  { table: 'sequence_step_hourly', time: 'hour', kind: 'rollupDays' },
  // The minute level (007) answers the cut edges of a range, which 006 read from the raw events:
  // it lives as long as they do.
  { table: 'campaign_minutely', time: 'minute', kind: 'rawDays' },
  { table: 'mailbox_minutely', time: 'minute', kind: 'rawDays' },
  { table: 'sequence_step_minutely', time: 'minute', kind: 'rawDays' },
  // Left by 006 (not written any more), expiring as before until a migration drops them.
  { table: 'email_events', time: 'toDateTime(occurred_at)', kind: 'rawDays' },
  { table: 'campaign_analytics_hourly', time: 'hour', kind: 'rollupDays' },
  { table: 'mailbox_analytics_hourly', time: 'hour', kind: 'rollupDays' },
  { table: 'sequence_step_analytics_hourly', time: 'hour', kind: 'rollupDays' },
];

/**
 * Puts the configured TTLs on the raw table and the rollups (run after the migrations, at start).
 * Not a migration: a migration's text is pinned by its checksum, a setting changes per
 * deployment. Idempotent and cheap when nothing changed: a table whose TTL already says the
 * configured days is left alone (an ALTER ... MODIFY TTL re-evaluates every part). With
 * `ttl_only_drop_parts = 1` expired data leaves as whole parts (monthly partitions: a month is
 * dropped once all of it expired), never by rewriting parts. Raw events and rollups expire
 * independently: the rollups keep their counts after the raw events are gone.
 * Returns the tables it changed. Documented ClickHouse syntax (MODIFY TTL, REMOVE TTL, MODIFY SETTING).
 */
export async function applyRetention(store: Store, retention: Retention, cluster?: string): Promise<string[]> {
  // CLICKHOUSE_CLUSTER: the data is in `<table>_local` on every node (src/db/cluster-ddl.ts); the
  // Distributed `<table>` stores nothing and takes no TTL.
  const stored = (table: string) => (cluster ? `${table}_local` : table);
  const on = cluster ? ` on cluster '${cluster}'` : '';
  const rows = await (
    await store.client.query({
      query: 'select name, engine_full from system.tables where database = {db:String}',
      query_params: { db: store.database },
      format: 'JSONEachRow',
    })
  ).json<{ name: string; engine_full: string }>();
  const engines = new Map(rows.map((r) => [r.name, r.engine_full]));
  const changed: string[] = [];
  for (const t of TABLES) {
    const engine = engines.get(stored(t.table));
    if (engine === undefined) continue;
    const days = retention[t.kind];
    const hasTtl = / TTL /.test(engine);
    if (days > 0 && !engine.includes(`toIntervalDay(${days})`)) {
      await store.client.command({ query: `alter table ${store.table(stored(t.table))}${on} modify setting ttl_only_drop_parts = 1` });
      await store.client.command({ query: `alter table ${store.table(stored(t.table))}${on} modify ttl ${t.time} + toIntervalDay(${days})` });
      changed.push(t.table);
    } else if (days === 0 && hasTtl) {
      await store.client.command({ query: `alter table ${store.table(stored(t.table))}${on} remove ttl` });
      changed.push(t.table);
    }
  }
  return changed;
}
