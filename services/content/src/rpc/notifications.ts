import { contentV1 } from '@penguinmails/contracts';
import { InvalidArgumentError, Validator, decodeCursor, encodeCursor } from '@penguinmails/service-kit';
import { randomUUID } from 'node:crypto';
import type { ServerDeps } from '../deps';
import * as notifications from '../domain/notifications';
import { checkFutureTime, checkKind, checkNoNul, toNotification } from './mappers';

const TITLE_MAX = 200;
const BODY_MAX = 4000;

export function createNotification(deps: ServerDeps) {
  return async (req: contentV1.CreateNotificationRequest): Promise<contentV1.CreateNotificationResponse> => {
    const v = new Validator();
    const tenantId = v.uuid('tenant_id', req.tenantId);
    const userId = v.uuid('user_id', req.userId);
    const kind = checkKind(v, 'kind', req.kind);
    const title = v.string('title', req.title, { max: TITLE_MAX, required: true });
    checkNoNul(v, 'title', title);
    const body = v.string('body', req.body, { max: BODY_MAX, trim: false });
    checkNoNul(v, 'body', body);
    const expires = checkFutureTime(v, 'expires', req.expires);
    v.done();
    const row = await notifications.createNotification(deps, { id: randomUUID(), tenantId, userId, kind, title, body, expires: expires ?? null });
    return { notification: toNotification(row) };
  };
}

export function getNotification(deps: ServerDeps) {
  return async (req: contentV1.GetNotificationRequest): Promise<contentV1.GetNotificationResponse> => {
    const v = new Validator();
    const tenantId = v.uuid('tenant_id', req.tenantId);
    const id = v.uuid('notification_id', req.notificationId);
    v.done();
    return { notification: toNotification(await notifications.getNotification(deps.prisma, tenantId, id)) };
  };
}

export function listNotifications(deps: ServerDeps) {
  return async (req: contentV1.ListNotificationsRequest): Promise<contentV1.ListNotificationsResponse> => {
    const v = new Validator();
    const tenantId = v.uuid('tenant_id', req.tenantId);
    const userId = v.uuid('user_id', req.userId);
    const size = v.pageSize('page.page_size', req.page?.pageSize, { default: deps.limits.pageSizeDefault, max: deps.limits.pageSizeMax });
    v.done();
    const binding = JSON.stringify(['notifications', tenantId, userId, req.unreadOnly]);
    // The kit's cursor plus the part (unread/read) it points into.
    const cursor = decodeCursor(deps.pageTokens, req.page?.pageToken, binding) as notifications.NotificationCursor | undefined;
    if (cursor && cursor.p !== 'u' && cursor.p !== 'r')
      throw new InvalidArgumentError([{ field: 'page.page_token', reason: 'MALFORMED', description: 'page.page_token is not a page token of this list; pass next_page_token unchanged' }]);
    const page = await notifications.listNotifications(deps.pool, { tenantId, userId, unreadOnly: req.unreadOnly, cursor, size });
    return {
      notifications: page.rows.map(toNotification),
      page: { nextPageToken: encodeCursor(deps.pageTokens, page.next, binding) },
      unreadCount: page.unreadCount,
    };
  };
}

export function markNotificationRead(deps: ServerDeps) {
  return async (req: contentV1.MarkNotificationReadRequest): Promise<contentV1.MarkNotificationReadResponse> => {
    const v = new Validator();
    const tenantId = v.uuid('tenant_id', req.tenantId);
    const id = v.uuid('notification_id', req.notificationId);
    v.done();
    return { notification: toNotification(await notifications.markRead(deps, tenantId, id)) };
  };
}

export function markAllNotificationsRead(deps: ServerDeps) {
  return async (req: contentV1.MarkAllNotificationsReadRequest): Promise<contentV1.MarkAllNotificationsReadResponse> => {
    const v = new Validator();
    const tenantId = v.uuid('tenant_id', req.tenantId);
    const userId = v.uuid('user_id', req.userId);
    v.done();
    return { marked: await notifications.markAllRead(deps, tenantId, userId) };
  };
}
