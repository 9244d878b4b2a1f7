import { takePage } from '@penguinmails/service-kit';

/**
 * Keyset ("seek") pagination on (created, id), newest first, shared by every List RPC.
 *
 * Why keyset and not offset: an offset page shifts when rows are inserted ahead of it
 * (duplicates) or deleted (skips); the cursor `(created, id) < (last.created, last.id)` is a
 * fixed point, so a row older than the cursor is returned exactly once however many rows
 * arrive meanwhile. `id` breaks ties between rows of one transaction (same `now()`).
 * The cursor carries `created` in microseconds as text: JavaScript Dates have milliseconds
 * and would round PostgreSQL's microsecond timestamps (and skip or repeat rows).
 * Every list query has a (tenant_id, [filter,] created, id) index, so a page is an index
 * scan backward of page_size + 1 entries (see README, "Indexes").
 */
export interface Cursor {
  /** `created` as microseconds since the epoch (a decimal string). */
  c: string;
  /** `id` of the last row of the page. */
  i: string;
}

/** SQL fragment selecting the cursor columns, to add to a list query's select list. */
export const CURSOR_COLUMNS = `(extract(epoch from created) * 1000000)::bigint::text as cursor_us`;

/** The seek predicate for a cursor given as parameters $n (microseconds) and $n+1 (id). */
export function seekPredicate(n: number): string {
  return `(created, id) < (timestamptz 'epoch' + ($${n}::bigint * interval '1 microsecond'), $${n + 1}::uuid)`;
}

/** Splits `rows` (fetched with limit pageSize + 1) into the page and the next cursor. */
export function pageOf<R extends { id: string; cursor_us: string }>(rows: R[], pageSize: number): { rows: R[]; next?: Cursor } {
  const page = takePage(rows, pageSize);
  return { rows: page.rows, next: page.last && { c: page.last.cursor_us, i: page.last.id } };
}
