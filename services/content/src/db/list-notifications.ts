import { listPage, type KeysetCursor } from '@penguinmails/service-kit';
import type { Pool } from 'pg';
import { NOTIFICATION_COLUMNS, type NotificationRow } from './rows';

const LIVE_NOTIFICATION = '(expires is null or expires > now())';

/**
 * One page of a user's live notifications of one part, newest first: the unread ones (partial
 * index notifications_unread_idx) or the read ones (notifications_tenant_user_created_idx).
 * ListNotifications walks the unread part, then the read part (domain/notifications.ts).
 */
export async function listNotifications(
  pool: Pool,
  q: { tenantId: string; userId: string; unread: boolean; cursor?: KeysetCursor; size: number },
): Promise<{ rows: NotificationRow[]; next?: KeysetCursor }> {
  return listPage<NotificationRow>(pool, {
    table: 'notifications',
    columns: NOTIFICATION_COLUMNS,
    tenantId: q.tenantId,
    filters: [['user_id', q.userId]],
    where: [q.unread ? 'read_at is null' : 'read_at is not null', LIVE_NOTIFICATION],
    cursor: q.cursor,
    size: q.size,
  });
}

/** How many live notifications of the user are unread (an index-only count on notifications_unread_idx). */
export async function countUnreadNotifications(pool: Pool, tenantId: string, userId: string): Promise<number> {
  const { rows } = await pool.query<{ n: number }>(
    `select count(*)::int as n from notifications
      where tenant_id = $1 and user_id = $2 and read_at is null and ${LIVE_NOTIFICATION}`,
    [tenantId, userId],
  );
  return rows[0].n;
}
