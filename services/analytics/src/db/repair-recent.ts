import type { Store } from './client';
import { COUNT_COLUMNS, NIL, RAW_COUNT_ARRAY, ROLLUPS } from './rollup-source';

/**
 * Puts `event_keys` and the three rollups (hourly and per minute) back in step with `events` for the buckets of the
 * events stored in the last `windowMs` before the newest one (migration 006's tables and 007's minute rollups).
 *
 * Why: one insert into `events` is not atomic across its tables — ClickHouse writes the raw
 * block, then runs the materialized views. A process killed inside that insert (kill -9 under
 * load does hit it: the fault suite saw one open counted in `events` and `event_keys` but not in
 * the campaign rollup), or an insert that fails half way, can leave the raw rows without some
 * view's rows. The raw table is the truth (every count is a sum of `sign` over it), so:
 * - each rollup bucket touched by a recent event gets a correcting row: (sums over `events`) −
 *   (sums in the rollup), merged like any other row (the rollups are sums);
 * - each recent event whose net count of rows in `event_keys` differs from `events` gets the
 *   missing key rows, so the writer's lookup sees what `events` holds.
 * Run by the writer before it loads its filter (process start) and after a failed insert, while
 * no other write can run (one writer per store: the `memory` filter). Not with several writers
 * (`store` filter): another replica's insert still running its views would look like damage.
 * Idempotent: a second run finds nothing to correct.
 */
export async function repairRecent(store: Store, windowMs = 120_000): Promise<{ buckets: number; keys: number }> {
  const [newest] = await (
    await store.client.query({ query: `select toString(max(ingested_at)) as at, count() as n from ${store.table('events')}`, format: 'JSONEachRow' })
  ).json<{ at: string; n: number | string }>();
  if (!newest || Number(newest.n) === 0) return { buckets: 0, keys: 0 };
  const params = { newest: newest.at, window: windowMs / 1000 };
  const since = `{newest:DateTime64(3, 'UTC')} - toIntervalMillisecond({window:Float64} * 1000)`;
  const recent = `ingested_at >= ${since}`;
  const n = COUNT_COLUMNS.length;
  // Each rollup at both levels: hourly (006) and per minute (007), the same sums per bucket.
  const levels = Object.values(ROLLUPS).flatMap((r) => [
    { r, table: r.table, col: 'hour', of: "toStartOfHour(toDateTime(occurred_at, 'UTC'))" },
    { r, table: r.minuteTable, col: 'minute', of: "toStartOfMinute(toDateTime(occurred_at, 'UTC'))" },
  ]);
  let buckets = 0;
  for (const { r, table, col, of } of levels) {
    const k = r.keys.join(', ');
    const touched = `select tenant_id, ${k}, ${of} from ${store.table('events')} where ${recent} and ${r.nonNil} != ${NIL}`;
    const diff = `
      select tenant_id, ${k}, ${col}, arrayMap((x, y) -> x - y, arrayResize(raw_c, ${n}, toInt64(0)), arrayResize(roll_c, ${n}, toInt64(0))) as delta
      from (
        select tenant_id, ${k}, ${of} as ${col}, sumForEach(${RAW_COUNT_ARRAY}) as raw_c
        from ${store.table('events')}
        where ${r.nonNil} != ${NIL} and (tenant_id, ${k}, ${of}) in (${touched})
        group by tenant_id, ${k}, ${col}
      ) as a
      left join (
        select tenant_id, ${k}, ${col}, sumForEachMerge(counts) as roll_c
        from ${store.table(table)}
        where (tenant_id, ${k}, ${col}) in (${touched})
        group by tenant_id, ${k}, ${col}
      ) as b using (tenant_id, ${k}, ${col})
      where arrayExists((x) -> x != 0, delta)`;
    const [{ c }] = await (await store.client.query({ query: `select count() as c from (${diff})`, query_params: params, format: 'JSONEachRow' })).json<{ c: number | string }>();
    if (Number(c) === 0) continue;
    buckets += Number(c);
    await store.client.command({
      query: `insert into ${store.table(table)} (tenant_id, ${k}, ${col}, counts)
              select tenant_id, ${k}, ${col}, sumForEachState(delta) from (${diff}) group by tenant_id, ${k}, ${col}`,
      query_params: params,
    });
  }

  const keyCols = 'tenant_id, event_id, campaign_id, occurred_at, detail_rank';
  const ids = `select tenant_id, event_id from ${store.table('events')} where ${recent}`;
  const keyDiff = `
    select ${keyCols}, toInt64(raw_n) - toInt64(keys_n) as d
    from (select ${keyCols}, sum(sign) as raw_n from ${store.table('events')} where (tenant_id, event_id) in (${ids}) group by ${keyCols}) as a
    left join (select ${keyCols}, sum(sign) as keys_n from ${store.table('event_keys')} where (tenant_id, event_id) in (${ids}) group by ${keyCols}) as b
    using (${keyCols})
    where d != 0`;
  const [{ c: keys }] = await (await store.client.query({ query: `select count() as c from (${keyDiff})`, query_params: params, format: 'JSONEachRow' })).json<{ c: number | string }>();
  if (Number(keys) > 0) {
    await store.client.command({
      query: `insert into ${store.table('event_keys')} (${keyCols}, sign)
              select ${keyCols}, if(d > 0, 1, -1) from (${keyDiff}) array join range(toUInt64(abs(d))) as i`,
      query_params: params,
    });
  }
  return { buckets, keys: Number(keys) };
}
