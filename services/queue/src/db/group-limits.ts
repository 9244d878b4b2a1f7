import type { Pool, PoolClient } from 'pg';

/** A SetGroupLimit setting (group_key '' = the queue's default). */
export interface GroupLimitRow {
  queue: string;
  groupKey: string;
  maxRunning: number;
  updated: Date;
}

const COLUMNS = `queue, group_key as "groupKey", max_running as "maxRunning", updated`;

/**
 * Sets one setting (insert or update). `updated` moves only when the value changes: setting the
 * value a setting has writes nothing.
 */
export async function upsertGroupLimit(db: Pool | PoolClient, a: { tenantId: string; queue: string; groupKey: string; maxRunning: number }): Promise<GroupLimitRow | undefined> {
  // Two tries: when a transaction that committed after this statement's snapshot had set the
  // same value, the conflict sees its row but the statement's read cannot, and nothing comes
  // back; the next statement (a new snapshot) reads it, or inserts again if it was removed since.
  // Undefined only when the setting was set and removed again between the two.
  for (let tries = 0; ; tries++) {
    const { rows } = await db.query<GroupLimitRow>({
      name: 'queue_upsert_group_limit',
      text: `with put as (
               insert into group_limits (tenant_id, queue, group_key, max_running) values ($1, $2, $3, $4)
               on conflict (tenant_id, queue, group_key) do update
                 set max_running = excluded.max_running, updated = now()
                 where group_limits.max_running <> excluded.max_running
               returning ${COLUMNS}
             )
             select * from put
             union all
             select ${COLUMNS} from group_limits where tenant_id = $1 and queue = $2 and group_key = $3 and not exists (select 1 from put)`,
      values: [a.tenantId, a.queue, a.groupKey, a.maxRunning],
    });
    if (rows[0] || tries === 1) return rows[0];
  }
}

/** Removes one setting; whether there was one. */
export async function deleteGroupLimit(db: Pool | PoolClient, a: { tenantId: string; queue: string; groupKey: string }): Promise<boolean> {
  const { rowCount } = await db.query({
    name: 'queue_delete_group_limit',
    text: `delete from group_limits where tenant_id = $1 and queue = $2 and group_key = $3`,
    values: [a.tenantId, a.queue, a.groupKey],
  });
  return (rowCount ?? 0) > 0;
}

/** A tenant's settings in (queue, group_key) order after the cursor, at most `limit`; `queue` narrows to one queue. */
export async function listGroupLimits(
  db: Pool | PoolClient,
  a: { tenantId: string; queue?: string; after?: { queue: string; groupKey: string }; limit: number },
): Promise<GroupLimitRow[]> {
  const { rows } = await db.query<GroupLimitRow>({
    name: 'queue_list_group_limits',
    text: `select ${COLUMNS} from group_limits
            where tenant_id = $1
              and ($2::varchar is null or queue = $2)
              and ($3::varchar is null or (queue, group_key) > ($3, $4::varchar))
            order by queue, group_key
            limit $5`,
    values: [a.tenantId, a.queue ?? null, a.after?.queue ?? null, a.after?.groupKey ?? null, a.limit],
  });
  return rows;
}
