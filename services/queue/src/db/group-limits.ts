import type { Pool, PoolClient } from 'pg';

/** A SetGroupLimit setting (group_key '' = the queue's default). */
export interface GroupLimitRow {
  queue: string;
  groupKey: string;
  maxRunning: number;
  updated: Date;
}

const COLUMNS = `queue, group_key as "groupKey", max_running as "maxRunning", updated`;
/** platform_group_limits has no group key: its rows are queue defaults (group_key ''). */
const PLATFORM_COLUMNS = `queue, ''::varchar as "groupKey", max_running as "maxRunning", updated`;

/**
 * Whose setting: a tenant's (group_limits), or the platform's (platform_group_limits, undefined
 * tenant: a queue's default for every tenant, group_key always '').
 */
export interface GroupLimitKey {
  tenantId?: string;
  queue: string;
  groupKey: string;
}

/**
 * Sets one setting (insert or update). `updated` moves only when the value changes: setting the
 * value a setting has writes nothing.
 */
export async function upsertGroupLimit(db: Pool | PoolClient, a: GroupLimitKey & { maxRunning: number }): Promise<GroupLimitRow | undefined> {
  // Two tries: when a transaction that committed after this statement's snapshot had set the
  // same value, the conflict sees its row but the statement's read cannot, and nothing comes
  // back; the next statement (a new snapshot) reads it, or inserts again if it was removed since.
  // Undefined only when the setting was set and removed again between the two.
  const platform = a.tenantId === undefined;
  for (let tries = 0; ; tries++) {
    const { rows } = await db.query<GroupLimitRow>(
      platform
        ? {
            name: 'queue_upsert_platform_group_limit',
            text: `with put as (
                     insert into platform_group_limits (queue, max_running) values ($1, $2)
                     on conflict (queue) do update
                       set max_running = excluded.max_running, updated = now()
                       where platform_group_limits.max_running <> excluded.max_running
                     returning ${PLATFORM_COLUMNS}
                   )
                   select * from put
                   union all
                   select ${PLATFORM_COLUMNS} from platform_group_limits where queue = $1 and not exists (select 1 from put)`,
            values: [a.queue, a.maxRunning],
          }
        : {
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
          },
    );
    if (rows[0] || tries === 1) return rows[0];
  }
}

/** Removes one setting; whether there was one. */
export async function deleteGroupLimit(db: Pool | PoolClient, a: GroupLimitKey): Promise<boolean> {
  const { rowCount } = await db.query(
    a.tenantId === undefined
      ? { name: 'queue_delete_platform_group_limit', text: `delete from platform_group_limits where queue = $1`, values: [a.queue] }
      : {
          name: 'queue_delete_group_limit',
          text: `delete from group_limits where tenant_id = $1 and queue = $2 and group_key = $3`,
          values: [a.tenantId, a.queue, a.groupKey],
        },
  );
  return (rowCount ?? 0) > 0;
}

/**
 * A tenant's settings (the platform's, for an undefined tenant) in (queue, group_key) order
 * after the cursor, at most `limit`; `queue` narrows to one queue.
 */
export async function listGroupLimits(
  db: Pool | PoolClient,
  a: { tenantId?: string; queue?: string; after?: { queue: string; groupKey: string }; limit: number },
): Promise<GroupLimitRow[]> {
  const { rows } = await db.query<GroupLimitRow>(
    a.tenantId === undefined
      ? {
          // One row per queue, so the cursor's queue alone orders the pages (its group key is '').
          name: 'queue_list_platform_group_limits',
          text: `select ${PLATFORM_COLUMNS} from platform_group_limits
                  where ($1::varchar is null or queue = $1)
                    and ($2::varchar is null or queue > $2)
                  order by queue
                  limit $3`,
          values: [a.queue ?? null, a.after?.queue ?? null, a.limit],
        }
      : {
          name: 'queue_list_group_limits',
          text: `select ${COLUMNS} from group_limits
                  where tenant_id = $1
                    and ($2::varchar is null or queue = $2)
                    and ($3::varchar is null or (queue, group_key) > ($3, $4::varchar))
                  order by queue, group_key
                  limit $5`,
          values: [a.tenantId, a.queue ?? null, a.after?.queue ?? null, a.after?.groupKey ?? null, a.limit],
        },
  );
  return rows;
}
