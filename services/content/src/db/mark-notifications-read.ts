import type { PoolClient } from 'pg';
import { NOTIFICATION_COLUMNS, type NotificationRow } from './rows';

/**
 * Marks unread live notifications read: one (`id`) or all of a user's (`userId`); returns the
 * rows it changed (already read ones are left as they are, so read_at is the first reading).
 * Hand-written: one bulk update whose returned rows become the NotificationRead events.
 */
export async function markNotificationsRead(
  client: PoolClient,
  q: { tenantId: string; id?: string; userId?: string },
): Promise<NotificationRow[]> {
  const { rows } = await client.query<NotificationRow>(
    `update notifications set read_at = now()
      where tenant_id = $1 and ($2::uuid is null or id = $2) and ($3::uuid is null or user_id = $3)
        and read_at is null and (expires is null or expires > now())
      returning ${NOTIFICATION_COLUMNS}`,
    [q.tenantId, q.id ?? null, q.userId ?? null],
  );
  return rows;
}
