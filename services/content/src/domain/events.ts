import { contentV1 } from '@penguinmails/contracts';
import { buildEnvelope, outboxInsert, outboxInsertMany, type EventNames, type ProtoMessage } from '@penguinmails/service-kit';
import type { PoolClient } from 'pg';

// Subject suffixes and fully-qualified payload names (events.proto). Events carry keys, sizes
// and times only: never bodies, headers, file names or bytes, so the stream holds no content.
const EVENTS = {
  contentStored: { suffix: 'content_stored', type: 'penguinmails.content.v1.ContentStored' },
  contentDeleted: { suffix: 'content_deleted', type: 'penguinmails.content.v1.ContentDeleted' },
  attachmentAdded: { suffix: 'attachment_added', type: 'penguinmails.content.v1.AttachmentAdded' },
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

/** Announces a new content object. */
export async function emitContentStored(client: PoolClient, names: EventNames, tenantId: string, payload: contentV1.ContentStored): Promise<void> {
  const q = outboxInsert(outboxRow(names, EVENTS.contentStored, contentV1.ContentStored, tenantId, payload));
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
