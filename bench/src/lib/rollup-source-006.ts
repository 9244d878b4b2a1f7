// A copy of services/analytics/src/db/rollup-source.ts as it was before migration 007 (commit
// e12c58c): whole hours from the hourly rollup, the cut parts of a range from the raw `events`.
// Kept only so that src/analytics-probe.ts can time the 006 read shape against 007's in one run.
/* eslint-disable */
/**
 * The shared FROM of every rollup query (not a query itself): the hourly rollup rows of the
 * whole hours inside a range, UNION ALL the raw events of the parts of an hour the range cuts
 * (its first and last hour when they are not whole), counted the same way (sum of sign, see
 * migration 006). The outer query merges both, so a range need not be whole hours.
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
/** The `counts` state from raw rows: exactly what the materialized views write. */
const RAW_COUNTS = `sumForEachState(${RAW_COUNT_ARRAY})`;

export type Rollup = 'campaign' | 'mailbox' | 'step';

/** Each rollup's table, its id columns after tenant_id, and the column whose nil UUID it skips. */
export const ROLLUPS: Record<Rollup, { table: string; keys: string[]; nonNil: string }> = {
  campaign: { table: 'campaign_hourly', keys: ['campaign_id'], nonNil: 'campaign_id' },
  mailbox: { table: 'mailbox_hourly', keys: ['email_account_id'], nonNil: 'email_account_id' },
  step: { table: 'sequence_step_hourly', keys: ['campaign_id', 'sequence_step_id'], nonNil: 'sequence_step_id' },
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

  // Whole hours from the rollup: [ceilHour(start), floorHour(end)).
  const wholeFrom = spec.start && ceilHour(spec.start);
  const wholeTo = spec.end && floorHour(spec.end);
  const edges: [Date | undefined, Date | undefined][] = [];
  let rollupPart = true;
  if (wholeFrom && wholeTo && wholeFrom >= wholeTo) {
    // The range is inside one or two hours: all of it from the raw events.
    rollupPart = false;
    edges.push([spec.start, spec.end]);
  } else {
    if (spec.start && wholeFrom!.getTime() !== spec.start.getTime()) edges.push([spec.start, wholeFrom]);
    if (spec.end && wholeTo!.getTime() !== spec.end.getTime()) edges.push([wholeTo, spec.end]);
  }

  const parts: string[] = [];
  if (rollupPart) {
    const where = [`tenant_id = {${p}tenant:UUID}`, ...idWhere];
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
    const spans = edges.map(([from, to], i) => {
      const conds: string[] = [];
      if (from) {
        params[`${p}e${i}s`] = chTime(from);
        conds.push(`occurred_at >= {${p}e${i}s:DateTime64(3, 'UTC')}`);
      }
      if (to) {
        params[`${p}e${i}e`] = chTime(to);
        conds.push(`occurred_at < {${p}e${i}e:DateTime64(3, 'UTC')}`);
      }
      return `(${conds.join(' and ')})`;
    });
    const where = [`tenant_id = {${p}tenant:UUID}`, ...idWhere, `${r.nonNil} != ${NIL}`, `(${spans.join(' or ')})`];
    parts.push(
      `select ${keys}, toStartOfHour(toDateTime(occurred_at, 'UTC')) as hour, ${tag} as w,
              ${RAW_COUNTS} as counts
       from ${table('events')} where ${where.join(' and ')}
       group by ${keys}, hour`,
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
