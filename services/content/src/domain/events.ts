import { contentV1 } from '@penguinmails/contracts';
import { buildEnvelope, outboxInsert, outboxInsertMany, type EventNames } from '@penguinmails/service-kit';

// Subject suffixes and fully-qualified payload names (events.proto). Events carry keys, sizes
// and times only: never bodies, headers, file names or bytes, so the stream holds no content.
const EVENTS = {
  contentStored: { suffix: 'content_stored', type: 'penguinmails.content.v1.ContentStored' },
  contentDeleted: { suffix: 'content_deleted', type: 'penguinmails.content.v1.ContentDeleted' },
  attachmentAdded: { suffix: 'attachment_added', type: 'penguinmails.content.v1.AttachmentAdded' },
} as const;

type Query = { text: string; values: unknown[] };

/** The outbox row announcing a new content object; run it in the insert's transaction. */
export function contentStoredOutbox(names: EventNames, tenantId: string, payload: contentV1.ContentStored): Query {
  const e = EVENTS.contentStored;
  const env = buildEnvelope({ tenantId, source: 'content', eventType: e.type, type: contentV1.ContentStored, payload });
  return outboxInsert({ eventId: env.eventId, tenantId, subject: names.subject('content', tenantId, e.suffix), eventType: e.type, bytes: env.bytes });
}

/** The outbox rows announcing deleted objects (one DeleteContent, or a sweeper batch). */
export function contentDeletedOutbox(
  names: EventNames,
  deleted: { tenantId: string; storageKey: string; attachmentsDeleted: number }[],
  reason: contentV1.DeletionReason,
): Query {
  const e = EVENTS.contentDeleted;
  const now = new Date();
  return outboxInsertMany(
    deleted.map((d) => {
      const env = buildEnvelope({
        tenantId: d.tenantId,
        source: 'content',
        eventType: e.type,
        type: contentV1.ContentDeleted,
        payload: { storageKey: d.storageKey, attachmentsDeleted: d.attachmentsDeleted, reason, deleted: now },
        occurredAt: now,
      });
      return { eventId: env.eventId, tenantId: d.tenantId, subject: names.subject('content', d.tenantId, e.suffix), eventType: e.type, bytes: env.bytes };
    }),
  );
}

/** The outbox row announcing a new attachment. */
export function attachmentAddedOutbox(names: EventNames, tenantId: string, payload: contentV1.AttachmentAdded): Query {
  const e = EVENTS.attachmentAdded;
  const env = buildEnvelope({ tenantId, source: 'content', eventType: e.type, type: contentV1.AttachmentAdded, payload });
  return outboxInsert({ eventId: env.eventId, tenantId, subject: names.subject('content', tenantId, e.suffix), eventType: e.type, bytes: env.bytes });
}
