/**
 * The shared FROM of every rollup query (not a query itself): the hourly rollup rows of the
 * whole hours inside a range, UNION ALL the minute rollup rows (migration 007) of the parts of
 * an hour the range cuts (its first and last hour when they are not whole). Rollups only: no
 * read of the raw events. The outer query merges both, so a range need not be whole hours.
 *
 * Bounds are exact to the minute: a minute counts when it starts inside [start, end), i.e. the
 * range read is [ceilMinute(start), ceilMinute(end)) (a sub-minute bound is rounded up to the
 * next minute; 006 read the raw edges exactly to the millisecond).
 *
 * Columns: the rollup's keys, `hour` (DateTime, UTC), `w` (the caller's tag, to merge several
 * windows in one query) and `counts`: a sumForEach state over the array of COUNT_COLUMNS, in
 * that order (one array column reads in ~60% of the time of twelve Int64 columns here).
 */

/** The counts each rollup keeps, in the order of its `counts` array (migration 006); hard_bounced = bounced - soft_bounced. */
export const COUNT_COLUMNS = [
  'sent',
  'delivered',
  'opened',
  'clicked',
  'replied',
  'bounced',
  'soft_bounced',
  'unsubscribed',
  'complained',
  'auto_replied',
  'unique_opened',
  'unique_clicked',
] as const;
export type CountColumn = (typeof COUNT_COLUMNS)[number];

/** 1-based position of a count in the `counts` array, for SQL (`c[1]`). */
export const at = (c: CountColumn) => COUNT_COLUMNS.indexOf(c) + 1;

export const NIL = "toUUID('00000000-0000-0000-0000-000000000000')";

/** Which rows each count counts: the same conditions as the materialized views of 006. */
const CONDITION: Record<CountColumn, string> = {
  sent: "event_type = 'sent'",
  delivered: "event_type = 'delivered'",
  opened: "event_type = 'opened'",
  clicked: "event_type = 'clicked'",
  replied: "event_type = 'replied'",
  bounced: "event_type = 'bounced'",
  soft_bounced: "event_type = 'bounced' and bounce_type = 'soft'",
  unsubscribed: "event_type = 'unsubscribed'",
  complained: "event_type = 'complained'",
  auto_replied: "event_type = 'auto_replied'",
  unique_opened: "event_type = 'unique_opened'",
  unique_clicked: "event_type = 'unique_clicked'",
};

/** One raw row's counts as the array the rollups sum (`sign` where the row counts, else 0). */
export const RAW_COUNT_ARRAY = `[${COUNT_COLUMNS.map((c) => `toInt64(sign * (${CONDITION[c]}))`).join(', ')}]`;

export type Rollup = 'campaign' | 'mailbox' | 'step';

/** Each rollup's table, its id columns after tenant_id, and the column whose nil UUID it skips. */
export const ROLLUPS: Record<Rollup, { table: string; minuteTable: string; keys: string[]; nonNil: string }> = {
  campaign: { table: 'campaign_hourly', minuteTable: 'campaign_minutely', keys: ['campaign_id'], nonNil: 'campaign_id' },
  mailbox: { table: 'mailbox_hourly', minuteTable: 'mailbox_minutely', keys: ['email_account_id'], nonNil: 'email_account_id' },
  step: { table: 'sequence_step_hourly', minuteTable: 'sequence_step_minutely', keys: ['campaign_id', 'sequence_step_id'], nonNil: 'sequence_step_id' },
};

/** Filter columns a caller may use (fixed names, never caller input). */
export type IdColumn = 'campaign_id' | 'email_account_id' | 'sequence_step_id';

export interface SourceSpec {
  rollup: Rollup;
  tenantId: string;
  /** Equality filters on id columns of the rollup. */
  ids?: Partial<Record<IdColumn, string>>;
  /** Half-open [start, end); either may be absent. */
  start?: Date;
  end?: Date;
  /** A constant in column `w`. */
  tag?: number;
}

const HOUR = 3_600_000;
const MINUTE = 60_000;
/** The first minute that starts at or after `d`: where a range's minute level begins. */
export const ceilMinute = (d: Date) => new Date(Math.ceil(d.getTime() / MINUTE) * MINUTE);
const floorHour = (d: Date) => new Date(Math.floor(d.getTime() / HOUR) * HOUR);
const ceilHour = (d: Date) => new Date(Math.ceil(d.getTime() / HOUR) * HOUR);

/** `Date` → `2025-01-31 23:59:59.123` (DateTime64(3, 'UTC') text, read alike by servers and chDB). */
export const chTime = (d: Date) => d.toISOString().replace('T', ' ').replace('Z', '');

/**
 * Appends the source's parameters to `params` (names prefixed with `p`, so several sources can
 * share one query) and returns its SQL: `select ... union all select ...`.
 */
export function rollupSource(table: (name: string) => string, spec: SourceSpec, params: Record<string, string | number>, p: string): string {
  const r = ROLLUPS[spec.rollup];
  const tag = spec.tag ?? 0;
  params[`${p}tenant`] = spec.tenantId;
  const idWhere: string[] = [];
  for (const [col, id] of Object.entries(spec.ids ?? {})) {
    if (id === undefined) continue;
    params[`${p}${col}`] = id;
    idWhere.push(`${col} = {${p}${col}:UUID}`);
  }
  const keys = r.keys.join(', ');

  // The minutes that start inside the range, [ceilMinute(start), ceilMinute(end)); of them the
  // whole hours [ceilHour(from), floorHour(to)) from the hourly rollup, the rest from the minute rollup.
  const from = spec.start && ceilMinute(spec.start);
  const to = spec.end && ceilMinute(spec.end);
  const wholeFrom = from && ceilHour(from);
  const wholeTo = to && floorHour(to);
  const edges: [Date | undefined, Date | undefined][] = [];
  let hourPart = true;
  if (wholeFrom && wholeTo && wholeFrom >= wholeTo) {
    // The range is inside one or two hours: all of it from the minute rollup.
    hourPart = false;
    edges.push([from, to]);
  } else {
    if (from && wholeFrom!.getTime() !== from.getTime()) edges.push([from, wholeFrom]);
    if (to && wholeTo!.getTime() !== to.getTime()) edges.push([wholeTo, to]);
  }

  const parts: string[] = [];
  const base = [`tenant_id = {${p}tenant:UUID}`, ...idWhere];
  if (hourPart) {
    const where = [...base];
    if (wholeFrom) {
      params[`${p}wf`] = chTime(wholeFrom);
      where.push(`hour >= {${p}wf:DateTime64(3, 'UTC')}`);
    }
    if (wholeTo) {
      params[`${p}wt`] = chTime(wholeTo);
      where.push(`hour < {${p}wt:DateTime64(3, 'UTC')}`);
    }
    parts.push(
      `select ${keys}, hour, ${tag} as w, counts
       from ${table(r.table)} where ${where.join(' and ')}`,
    );
  }
  if (edges.length > 0) {
    const spans = edges.map(([a, b], i) => {
      const conds: string[] = [];
      if (a) {
        params[`${p}e${i}s`] = chTime(a);
        conds.push(`minute >= {${p}e${i}s:DateTime64(3, 'UTC')}`);
      }
      if (b) {
        params[`${p}e${i}e`] = chTime(b);
        conds.push(`minute < {${p}e${i}e:DateTime64(3, 'UTC')}`);
      }
      return `(${conds.join(' and ')})`;
    });
    parts.push(
      `select ${keys}, toStartOfHour(minute) as hour, ${tag} as w, counts
       from ${table(r.minuteTable)} where ${[...base, `(${spans.join(' or ')})`].join(' and ')}`,
    );
  }
  return parts.join('\nunion all\n');
}

/**
 * The merged counts as one array column `<prefix>counts` (positions: COUNT_COLUMNS; read it with
 * readCounts, or `<prefix>counts[at('sent')]` in SQL), optionally only over source rows
 * matching `cond` (e.g. `w = 1`).
 */
export function mergedCounts(cond?: string, prefix = 'n_'): string {
  return `${cond ? `sumForEachMergeIf(counts, ${cond})` : 'sumForEachMerge(counts)'} as ${prefix}counts`;
}

/** `<prefix>counts[i]` as SQL (0 when the array is shorter: no rows; ClickHouse's out-of-range element is the default). */
export const countExpr = (c: CountColumn, prefix = 'n_') => `${prefix}counts[${at(c)}]`;

export interface CountsRow {
  sent: number;
  delivered: number;
  opened: number;
  clicked: number;
  replied: number;
  bounced: number;
  unsubscribed: number;
  complained: number;
  unique_opened: number;
  unique_clicked: number;
  /** bounced = hard_bounced + soft_bounced; a bounce of unknown type counts as hard. */
  hard_bounced: number;
  soft_bounced: number;
  auto_replied: number;
}

/** A row's `<prefix>counts` array as named numbers (servers may quote Int64 in JSON, chDB does not). */
export function readCounts(r: Record<string, unknown>, prefix = 'n_'): CountsRow {
  const arr = (r[prefix + 'counts'] as (number | string)[] | undefined) ?? [];
  const n = (c: CountColumn) => Number(arr[at(c) - 1] ?? 0);
  return {
    sent: n('sent'),
    delivered: n('delivered'),
    opened: n('opened'),
    clicked: n('clicked'),
    replied: n('replied'),
    bounced: n('bounced'),
    unsubscribed: n('unsubscribed'),
    complained: n('complained'),
    unique_opened: n('unique_opened'),
    unique_clicked: n('unique_clicked'),
    hard_bounced: n('bounced') - n('soft_bounced'),
    soft_bounced: n('soft_bounced'),
    auto_replied: n('auto_replied'),
  };
}
