import type { Pool } from 'pg';
import { CONTENT_COLUMNS, LIVE, type ContentRow } from './rows';

export interface BatchContentRow extends ContentRow {
  /** Position of the key's first occurrence in the request (1-based). */
  ord: number;
  included: boolean;
  contentText: string | null;
  contentHtml: string | null;
  headers: Record<string, unknown> | null;
}

/**
 * The tenant's live objects among `keys` (one primary-key probe each), with the chosen parts.
 * Parts are returned while the running size of the answer (in request order) stays within
 * `maxBytes`; the first found object is always included (it is within CONTENT_MAX_BYTES). The
 * sizes come from the TOAST pointers (octet_length), and a CASE leaves the bodies of rows past
 * the budget unread. Hand-written for that, and for the order (unnest with ordinality).
 */
export async function batchGetContent(
  pool: Pool,
  opts: { tenantId: string; keys: string[]; text: boolean; html: boolean; headers: boolean; maxBytes: number },
): Promise<BatchContentRow[]> {
  const { rows } = await pool.query<BatchContentRow>(
    `with req as (select k, min(ord)::int as ord from unnest($2::varchar[]) with ordinality as u(k, ord) group by k),
          hit as (select c.*, r.ord,
                         (case when $3 then coalesce(octet_length(c.content_text), 0) else 0 end
                          + case when $4 then coalesce(octet_length(c.content_html), 0) else 0 end
                          + case when $5 then coalesce(octet_length(c.headers::text), 0) else 0 end)::bigint as sz
                    from req r join content_objects c on c.storage_key = r.k
                   where c.tenant_id = $1 and ${LIVE}),
          run as (select *, sum(sz) over (order by ord) as upto, min(ord) over () as first from hit)
     select ${CONTENT_COLUMNS}, ord, (upto <= $6 or ord = first) as included,
            case when $3 and (upto <= $6 or ord = first) then content_text end as "contentText",
            case when $4 and (upto <= $6 or ord = first) then content_html end as "contentHtml",
            case when $5 and (upto <= $6 or ord = first) then headers end as headers
       from run`,
    [opts.tenantId, opts.keys, opts.text, opts.html, opts.headers, opts.maxBytes],
  );
  return rows;
}
