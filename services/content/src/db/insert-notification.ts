import type { PoolClient } from 'pg';
import { NOTIFICATION_COLUMNS, type NotificationRow } from './rows';

export interface NewNotification {
  id: string;
  tenantId: string;
  userId: string;
  kind: string;
  title: string;
  body: string;
  expires: Date | null;
}

/** Inserts a notification in the caller's transaction (its NotificationCreated goes in the same one). */
export async function insertNotification(client: PoolClient, n: NewNotification): Promise<NotificationRow> {
  const { rows } = await client.query<NotificationRow>(
    `insert into notifications (id, tenant_id, user_id, kind, title, body, expires)
     values ($1, $2, $3, $4, $5, $6, $7)
     returning ${NOTIFICATION_COLUMNS}`,
    [n.id, n.tenantId, n.userId, n.kind, n.title, n.body, n.expires],
  );
  return rows[0];
}
