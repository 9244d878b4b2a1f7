import type { Pool } from 'pg';
import { CURSOR_COLUMNS, pageOf, seekPredicate, type Cursor } from './keyset';

/** One equality filter of a list (`column = value`); undefined values are ignored. */
export type Filter = [column: string, value: unknown];

/**
 * The List query of every resource: tenant-scoped, optional equality filters, newest first,
 * keyset cursor (see keyset.ts). `columns` is the resource's select list (camelCase aliases).
 * Table and column names come from this service's code, never from a request.
 */
export async function listRows<R extends { id: string }>(
  pool: Pool,
  table: string,
  columns: string,
  tenantId: string,
  filters: Filter[],
  cursor: Cursor | undefined,
  size: number,
  extraWhere: string[] = [],
): Promise<{ rows: R[]; next?: Cursor }> {
  const values: unknown[] = [tenantId];
  const where = ['tenant_id = $1', ...extraWhere];
  for (const [column, value] of filters) {
    if (value === undefined) continue;
    values.push(value);
    where.push(`${column} = $${values.length}`);
  }
  if (cursor) {
    values.push(cursor.c, cursor.i);
    where.push(seekPredicate(values.length - 1));
  }
  values.push(size + 1);
  const { rows } = await pool.query<R & { cursor_us: string }>(
    `select ${columns}, ${CURSOR_COLUMNS}
       from ${table}
      where ${where.join(' and ')}
      order by created desc, id desc
      limit $${values.length}`,
    values,
  );
  const page = pageOf(rows, size);
  return { rows: page.rows.map(({ cursor_us: _, ...r }) => r as unknown as R), next: page.next };
}
