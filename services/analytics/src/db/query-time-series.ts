import { callSettings } from './call-settings';
import type { Store } from './client';
import { mergedCounts, readCounts, rollupSource, type CountsRow, type IdColumn, type Rollup } from './rollup-source';

export interface TimeSeriesQuery {
  tenantId: string;
  rollup: Rollup;
  column: IdColumn;
  id: string;
  start: Date;
  end: Date;
  bucket: 'hour' | 'day';
  /** A validated IANA name (passed as a query parameter, never spliced). */
  timeZone: string;
}

export interface TimeSeriesRow extends CountsRow {
  /** bucket start, epoch seconds */
  start: number;
  localStart: string;
}

const HOUR = 3600;

/**
 * Buckets of one id's counts, every bucket present: ORDER BY ... WITH FILL adds the empty ones
 * (documented ClickHouse syntax; numeric steps — 3600 s for DateTime, 1 day for Date — which
 * every version since 20.x takes). Hour buckets are UTC hours (labelled in the zone); day
 * buckets are calendar days of the zone, derived from the hourly rollup (`toDate(hour, tz)`).
 * The outer select computes the labels, so filled rows get them too.
 */
export async function queryTimeSeries(store: Store, q: TimeSeriesQuery): Promise<TimeSeriesRow[]> {
  const params: Record<string, string | number> = { tz: q.timeZone };
  const source = rollupSource(store.table, { rollup: q.rollup, tenantId: q.tenantId, ids: { [q.column]: q.id }, start: q.start, end: q.end }, params, 's');
  const startS = Math.floor(q.start.getTime() / 1000);
  const lastS = Math.floor((q.end.getTime() - 1) / 1000);
  params.fs = Math.floor(startS / HOUR) * HOUR;
  params.ft = Math.floor(lastS / HOUR) * HOUR + HOUR;
  params.ls = lastS;
  const counts = 'n_counts';
  const inner =
    q.bucket === 'hour'
      ? `select hour as bucket, ${mergedCounts()} from (${source}) group by bucket
         order by bucket with fill from toDateTime({fs:UInt32}, 'UTC') to toDateTime({ft:UInt32}, 'UTC') step 3600`
      : `select toDate(hour, {tz:String}) as bucket, ${mergedCounts()} from (${source}) group by bucket
         order by bucket with fill from toDate(toDateTime({fs:UInt32}, 'UTC'), {tz:String}) to toDate(toDateTime({ls:UInt32}, 'UTC'), {tz:String}) + 1 step 1`;
  const outer =
    q.bucket === 'hour'
      ? `select toUnixTimestamp(bucket) as start_s, formatDateTime(toTimeZone(bucket, {tz:String}), '%Y-%m-%d %H:%i') as local_start, ${counts} from (${inner})`
      : `select toUnixTimestamp(toDateTime(bucket, {tz:String})) as start_s, toString(bucket) as local_start, ${counts} from (${inner})`;
  const rows = await (
    await store.client.query({ query: `${outer} order by start_s`, query_params: params, format: 'JSONEachRow', ...callSettings() })
  ).json<Record<string, string | number>>();
  return rows.map((r) => ({ start: Number(r.start_s), localStart: String(r.local_start), ...readCounts(r) }));
}
