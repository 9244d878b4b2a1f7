import { contentV1 } from '@penguinmails/contracts';
import { buildEnvelope, outboxInsert, outboxInsertMany, type EventNames, type ProtoMessage } from '@penguinmails/service-kit';
import type { PoolClient } from 'pg';
import type { StoredEventRow } from '../db/insert-content-with-event';

// Subject suffixes and fully-qualified payload names (events.proto). Events carry keys, sizes
// and times only: never bodies, headers, file names or bytes, so the stream holds no content.
const EVENTS = {
  contentStored: { suffix: 'content_stored', type: 'penguinmails.content.v1.ContentStored' },
  contentDeleted: { suffix: 'content_deleted', type: 'penguinmails.content.v1.ContentDeleted' },
  attachmentAdded: { suffix: 'attachment_added', type: 'penguinmails.content.v1.AttachmentAdded' },
  transactionalEmailQueued: { suffix: 'transactional_email_queued', type: 'penguinmails.content.v1.TransactionalEmailQueued' },
  transactionalEmailStatusChanged: {
    suffix: 'transactional_email_status_changed',
    type: 'penguinmails.content.v1.TransactionalEmailStatusChanged',
  },
  notificationCreated: { suffix: 'notification_created', type: 'penguinmails.content.v1.NotificationCreated' },
  notificationRead: { suffix: 'notification_read', type: 'penguinmails.content.v1.NotificationRead' },
  contentExpirySet: { suffix: 'content_expiry_set', type: 'penguinmails.content.v1.ContentExpirySet' },
  retentionPolicyChanged: { suffix: 'retention_policy_changed', type: 'penguinmails.content.v1.RetentionPolicyChanged' },
} as const;

/** One outbox row: the event's envelope on `pm.content.<tenant>.<suffix>`. */
function outboxRow<T>(
  names: EventNames,
  event: (typeof EVENTS)[keyof typeof EVENTS],
  type: ProtoMessage<T>,
  tenantId: string,
  payload: T,
  occurredAt?: Date,
) {
  const env = buildEnvelope({ tenantId, source: 'content', eventType: event.type, type, payload, occurredAt });
  return { eventId: env.eventId, tenantId, subject: names.subject('content', tenantId, event.suffix), eventType: event.type, bytes: env.bytes };
}

// Each emit* writes its outbox rows with `client`: call it in the transaction of the change.

/**
 * ContentStored's outbox row as values, for a statement that writes it together with the object
 * (src/db/insert-content-with-event.ts); the kit's outboxInsert decides the trace columns.
 */
export function contentStoredEventRow(names: EventNames, tenantId: string, payload: contentV1.ContentStored): StoredEventRow {
  const row = outboxRow(names, EVENTS.contentStored, contentV1.ContentStored, tenantId, payload, payload.created);
  const [, , , , bytes, traceparent = null, tracestate = null] = outboxInsert(row).values as [string, string, string, string, Buffer, string?, string?];
  return { eventId: row.eventId, subject: row.subject, eventType: row.eventType, payload: bytes, traceparent, tracestate };
}

/** Announces a new content object. */
export async function emitContentStored(client: PoolClient, names: EventNames, tenantId: string, payload: contentV1.ContentStored): Promise<void> {
  const q = outboxInsert(outboxRow(names, EVENTS.contentStored, contentV1.ContentStored, tenantId, payload));
  await client.query(q.text, q.values);
}

/** Announces many new content objects of one tenant in one multi-row outbox insert (BatchPutContent); none: nothing. */
export async function emitContentStoredMany(client: PoolClient, names: EventNames, tenantId: string, payloads: contentV1.ContentStored[]): Promise<void> {
  if (!payloads.length) return;
  const q = outboxInsertMany(payloads.map((p) => outboxRow(names, EVENTS.contentStored, contentV1.ContentStored, tenantId, p)));
  await client.query(q.text, q.values);
}

/** Announces deleted objects (one DeleteContent, or a sweeper batch) in one statement; none: nothing. */
export async function emitContentDeleted(
  client: PoolClient,
  names: EventNames,
  deleted: { tenantId: string; storageKey: string; attachmentsDeleted: number }[],
  reason: contentV1.DeletionReason,
): Promise<void> {
  if (!deleted.length) return;
  const now = new Date();
  const rows = deleted.map((d) => {
    const payload = { storageKey: d.storageKey, attachmentsDeleted: d.attachmentsDeleted, reason, deleted: now };
    return outboxRow(names, EVENTS.contentDeleted, contentV1.ContentDeleted, d.tenantId, payload, now);
  });
  const q = outboxInsertMany(rows);
  await client.query(q.text, q.values);
}

/** Announces a new attachment. */
export async function emitAttachmentAdded(client: PoolClient, names: EventNames, tenantId: string, payload: contentV1.AttachmentAdded): Promise<void> {
  const q = outboxInsert(outboxRow(names, EVENTS.attachmentAdded, contentV1.AttachmentAdded, tenantId, payload));
  await client.query(q.text, q.values);
}

/** Announces a new transactional email (no address, subject or body). */
export async function emitTransactionalEmailQueued(
  client: PoolClient,
  names: EventNames,
  tenantId: string,
  payload: contentV1.TransactionalEmailQueued,
): Promise<void> {
  const q = outboxInsert(outboxRow(names, EVENTS.transactionalEmailQueued, contentV1.TransactionalEmailQueued, tenantId, payload));
  await client.query(q.text, q.values);
}

/** Announces a transactional email's new status. */
export async function emitTransactionalEmailStatusChanged(
  client: PoolClient,
  names: EventNames,
  tenantId: string,
  payload: contentV1.TransactionalEmailStatusChanged,
): Promise<void> {
  const q = outboxInsert(
    outboxRow(names, EVENTS.transactionalEmailStatusChanged, contentV1.TransactionalEmailStatusChanged, tenantId, payload, payload.changed),
  );
  await client.query(q.text, q.values);
}

/** Announces a new notification (no title or body). */
export async function emitNotificationCreated(client: PoolClient, names: EventNames, tenantId: string, payload: contentV1.NotificationCreated): Promise<void> {
  const q = outboxInsert(outboxRow(names, EVENTS.notificationCreated, contentV1.NotificationCreated, tenantId, payload));
  await client.query(q.text, q.values);
}

/** Announces notifications read for the first time (one MarkNotificationRead, or all of a user's) in one statement. */
export async function emitNotificationsRead(
  client: PoolClient,
  names: EventNames,
  read: { tenantId: string; id: string; userId: string; readAt: Date | null }[],
): Promise<void> {
  if (!read.length) return;
  const rows = read.map((n) =>
    outboxRow(names, EVENTS.notificationRead, contentV1.NotificationRead, n.tenantId, { notificationId: n.id, userId: n.userId, readAt: n.readAt ?? undefined }),
  );
  const q = outboxInsertMany(rows);
  await client.query(q.text, q.values);
}

/** Announces an object's new expiry / policy exemption (SetExpiry). */
export async function emitContentExpirySet(client: PoolClient, names: EventNames, tenantId: string, payload: contentV1.ContentExpirySet): Promise<void> {
  const q = outboxInsert(outboxRow(names, EVENTS.contentExpirySet, contentV1.ContentExpirySet, tenantId, payload, payload.changed));
  await client.query(q.text, q.values);
}

/** Announces a tenant's new effective retention policy. */
export async function emitRetentionPolicyChanged(
  client: PoolClient,
  names: EventNames,
  tenantId: string,
  payload: contentV1.RetentionPolicyChanged,
): Promise<void> {
  const q = outboxInsert(outboxRow(names, EVENTS.retentionPolicyChanged, contentV1.RetentionPolicyChanged, tenantId, payload, payload.changed));
  await client.query(q.text, q.values);
}
