import type { Pool } from 'pg';
import { InvalidArgumentError } from '../errors';
import { maxSendBytes, type GrpcServerSettings } from '../grpc/server';
import type { PageTokens } from '../page-tokens';

/**
 * Keyset ("seek") pagination on (created, id): the one way every List RPC of the platform pages.
 *
 * Why keyset and not offset: an offset page shifts when rows are inserted ahead of it
 * (duplicates) or deleted (skips); the cursor `(created, id) < (last.created, last.id)` is a
 * fixed point, so a row is returned exactly once however many rows arrive meanwhile. `id`
 * breaks ties between rows of one transaction (same `now()`). The cursor carries `created` in
 * microseconds as text: a JavaScript Date has milliseconds and would round PostgreSQL's
 * microsecond timestamps, repeating or skipping rows created within one millisecond.
 * Each list query needs a (tenant_id, [filter,] created, id) index, so a page is an index
 * range scan of page_size + 1 entries.
 */
export interface KeysetCursor {
  /** `created` as microseconds since the epoch (a decimal string). */
  c: string;
  /** `id` of the last row of the page. */
  i: string;
}

/** Newest first (`desc`, the default) or in insertion order (`asc`). */
export type KeysetOrder = 'asc' | 'desc';

/** One equality filter of a list (`column = value`); an undefined value is ignored. */
export type Filter = [column: string, value: unknown];

export interface ListPageQuery<R = unknown> {
  /** Table and select list come from the service's code, never from a request. */
  table: string;
  /** The select list (with camelCase aliases where the row type wants them). */
  columns: string;
  tenantId: string;
  filters?: Filter[];
  /** Further fixed predicates (no parameters), e.g. `archived is null`. */
  where?: string[];
  /**
   * Predicates with one parameter each, written with `?` for it, e.g.
   * `['created >= ?', start]`; an undefined value drops the predicate.
   */
  conditions?: [sql: string, value: unknown][];
  cursor?: KeysetCursor;
  size: number;
  order?: KeysetOrder;
  /**
   * A page's byte budget: the rows are kept, in order, while their estimated encoded sizes
   * (`bytesOf`) add up to at most `maxBytes` (always at least one row), and the next page starts
   * after the last row kept. A list of large rows (job payloads, log data) otherwise asks for a
   * reply larger than the server sends (GRPC_MAX_SEND_BYTES): grpc-js refuses it with
   * RESOURCE_EXHAUSTED and the caller cannot page past it. A page may hold fewer rows than its
   * page_size (AIP-158 allows it); next_page_token says whether more follow.
   */
  budget?: PageBudget<R>;
}

/**
 * The byte budget of a list page on a server with these settings: the largest reply it sends
 * (GRPC_MAX_SEND_BYTES), less room for the page token and the response's own fields.
 */
export function listReplyBytes(settings?: GrpcServerSettings): number {
  return maxSendBytes(settings) - 8192;
}

/** See ListPageQuery.budget. */
export interface PageBudget<R> {
  maxBytes: number;
  bytesOf: (row: R) => number;
}

/**
 * The first rows of `rows` (at most `size`) that fit in `budget`, at least one, and whether the
 * page was cut: by `size` (more rows were fetched than a page holds) or by the budget.
 */
export function fitPage<R>(rows: R[], size: number, budget?: PageBudget<R>): { rows: R[]; last?: R } {
  let n = Math.min(rows.length, size);
  if (budget) {
    let total = 0;
    for (let i = 0; i < n; i++) {
      total += budget.bytesOf(rows[i]);
      if (total > budget.maxBytes && i > 0) {
        n = i;
        break;
      }
    }
  }
  const page = rows.slice(0, n);
  return { rows: page, last: rows.length > n ? page[page.length - 1] : undefined };
}

/**
 * One page of a tenant's rows of `table`, and the cursor of the next page (undefined on the
 * last one). One query: `limit size + 1` tells whether there is a next page.
 */
export async function listPage<R extends { id: string }>(pool: Pool, q: ListPageQuery<R>): Promise<{ rows: R[]; next?: KeysetCursor }> {
  const order = q.order ?? 'desc';
  const values: unknown[] = [q.tenantId];
  const where = ['tenant_id = $1', ...(q.where ?? [])];
  for (const [column, value] of q.filters ?? []) {
    if (value === undefined) continue;
    values.push(value);
    where.push(`${column} = $${values.length}`);
  }
  for (const [sql, value] of q.conditions ?? []) {
    if (value === undefined) continue;
    values.push(value);
    where.push(sql.replace('?', `$${values.length}`));
  }
  if (q.cursor) {
    values.push(q.cursor.c, q.cursor.i);
    const n = values.length - 1;
    where.push(`(created, id) ${order === 'desc' ? '<' : '>'} (timestamptz 'epoch' + ($${n}::bigint * interval '1 microsecond'), $${n + 1}::uuid)`);
  }
  values.push(q.size + 1);
  const { rows } = await pool.query<R & { cursor_us: string }>(
    `select ${q.columns}, (extract(epoch from created) * 1000000)::bigint::text as cursor_us
       from ${q.table}
      where ${where.join(' and ')}
      order by created ${order}, id ${order}
      limit $${values.length}`,
    values,
  );
  const page = fitPage<R & { cursor_us: string }>(rows, q.size, q.budget);
  return {
    rows: page.rows.map(({ cursor_us: _, ...r }) => r as unknown as R),
    next: page.last && { c: page.last.cursor_us, i: page.last.id },
  };
}

/**
 * The cursor of a request's page token: undefined for none; INVALID_ARGUMENT naming `field`
 * for a token not issued for this binding, or (with a leaked secret) one of another shape.
 */
export function decodeCursor(tokens: PageTokens, token: string | undefined, binding: string, field = 'page.page_token'): KeysetCursor | undefined {
  const cursor = tokens.decode<KeysetCursor>(token, binding, field);
  if (cursor === undefined) return undefined;
  if (typeof cursor !== 'object' || cursor === null || typeof cursor.c !== 'string' || !/^-?\d{1,20}$/.test(cursor.c) || typeof cursor.i !== 'string')
    throw new InvalidArgumentError([{ field, reason: 'MALFORMED', description: `${field} is not a page token of this list; pass next_page_token unchanged` }]);
  return cursor;
}

/**
 * decodeCursor for a list paged by text keys instead of (created, id): the cursor is an object
 * whose `keys` are strings (e.g. `{ k: <last hold key> }`). Undefined for no token;
 * INVALID_ARGUMENT naming `field` for a token of another list or shape, as decodeCursor.
 */
export function decodeKeyCursor<K extends string>(
  tokens: PageTokens,
  token: string | undefined,
  binding: string,
  keys: readonly K[],
  field = 'page.page_token',
): Record<K, string> | undefined {
  const cursor = tokens.decode<Record<K, string>>(token, binding, field);
  if (cursor === undefined) return undefined;
  if (typeof cursor !== 'object' || cursor === null || keys.some((k) => typeof cursor[k] !== 'string'))
    throw new InvalidArgumentError([{ field, reason: 'MALFORMED', description: `${field} is not a page token of this list; pass next_page_token unchanged` }]);
  return cursor;
}

/** The next page token of a page (empty on the last page). */
export function encodeCursor(tokens: PageTokens, next: KeysetCursor | undefined, binding: string): string {
  return next ? tokens.encode(next, binding) : '';
}
