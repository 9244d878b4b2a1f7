import { NotFoundError, withTransaction, type EventNames, type KeysetCursor } from '@penguinmails/service-kit';
import type { Pool } from 'pg';
import { insertNotification, type NewNotification } from '../db/insert-notification';
import { countUnreadNotifications, listNotifications as listRows } from '../db/list-notifications';
import { markNotificationsRead } from '../db/mark-notifications-read';
import type { PrismaClient } from '../db/prisma';
import type { NotificationRow } from '../db/rows';
import { emitNotificationCreated, emitNotificationsRead } from './events';

export type { NotificationRow };

/**
 * The rules of `notifications`: in-app notices per user, unread first, gone after `expires`
 * (reads hide them; the retention sweeper deletes them).
 */

export async function createNotification(deps: { pool: Pool; names: EventNames }, n: NewNotification): Promise<NotificationRow> {
  return withTransaction(deps.pool, async (client) => {
    const row = await insertNotification(client, n);
    await emitNotificationCreated(client, deps.names, n.tenantId, { notificationId: row.id, userId: row.userId, kind: row.kind, created: row.created });
    return row;
  });
}

/** The tenant's live notification (Prisma: by primary key); NOT_FOUND when missing, foreign or expired. */
export async function getNotification(prisma: PrismaClient, tenantId: string, id: string): Promise<NotificationRow> {
  const row = await prisma.notification.findFirst({ where: { id, tenantId, OR: [{ expires: null }, { expires: { gt: new Date() } }] } });
  if (!row) throw new NotFoundError('notification', id);
  return row;
}

/** Where a ListNotifications page continues: a keyset cursor in the unread (`u`) or read (`r`) part. */
export type NotificationCursor = KeysetCursor & { p: 'u' | 'r' };

/** Before every row: the read part from its start (a cursor newer than any row). */
const READ_PART_START: NotificationCursor = { c: '253402300800000000', i: 'ffffffff-ffff-ffff-ffff-ffffffffffff', p: 'r' };

/**
 * One page of the user's notifications, unread (newest first) then read (newest first), as two
 * keyset walks: the unread part, and when it ends within the page, the read part fills the rest.
 * A notification read while a client pages moves to the read part and may show twice or (if
 * already passed there) not at all in that walk; the next walk is exact.
 */
export async function listNotifications(
  pool: Pool,
  q: { tenantId: string; userId: string; unreadOnly: boolean; cursor?: NotificationCursor; size: number },
): Promise<{ rows: NotificationRow[]; next?: NotificationCursor; unreadCount: number }> {
  const unreadCount = await countUnreadNotifications(pool, q.tenantId, q.userId);
  const base = { tenantId: q.tenantId, userId: q.userId };
  if (q.cursor?.p !== 'r') {
    const unread = await listRows(pool, { ...base, unread: true, cursor: q.cursor, size: q.size });
    if (unread.next) return { rows: unread.rows, next: { ...unread.next, p: 'u' }, unreadCount };
    if (q.unreadOnly) return { rows: unread.rows, unreadCount };
    const rest = q.size - unread.rows.length;
    if (rest === 0) {
      const probe = await listRows(pool, { ...base, unread: false, size: 1 });
      return { rows: unread.rows, next: probe.rows.length ? READ_PART_START : undefined, unreadCount };
    }
    const read = await listRows(pool, { ...base, unread: false, size: rest });
    return { rows: [...unread.rows, ...read.rows], next: read.next && { ...read.next, p: 'r' }, unreadCount };
  }
  const read = await listRows(pool, { ...base, unread: false, cursor: q.cursor, size: q.size });
  return { rows: read.rows, next: read.next && { ...read.next, p: 'r' }, unreadCount };
}

/** Marks one notification read (idempotent: a read one keeps its read_at, no second event). */
export async function markRead(deps: { pool: Pool; names: EventNames; prisma: PrismaClient }, tenantId: string, id: string): Promise<NotificationRow> {
  const changed = await withTransaction(deps.pool, async (client) => {
    const rows = await markNotificationsRead(client, { tenantId, id });
    await emitNotificationsRead(client, deps.names, rows);
    return rows[0];
  });
  return changed ?? getNotification(deps.prisma, tenantId, id);
}

/** Marks every unread live notification of the user read; resolves with how many. */
export async function markAllRead(deps: { pool: Pool; names: EventNames }, tenantId: string, userId: string): Promise<number> {
  return withTransaction(deps.pool, async (client) => {
    const rows = await markNotificationsRead(client, { tenantId, userId });
    await emitNotificationsRead(client, deps.names, rows);
    return rows.length;
  });
}
