import { contentV1 } from '@penguinmails/contracts';
import type { Validator } from '@penguinmails/service-kit';
import type { AttachmentRow } from '../domain/attachments';
import type { ContentRow } from '../domain/content';
import type { NotificationRow } from '../domain/notifications';
import { statusEnum, type TransactionalEmailRow } from '../domain/transactional-emails';

/** Row → proto. Absent timestamps stay absent (ts-proto: undefined), never the epoch. */
export function toContentObject(r: ContentRow): contentV1.ContentObject {
  return {
    storageKey: r.storageKey,
    tenantId: r.tenantId,
    rawSizeBytes: BigInt(r.rawSizeBytes),
    created: r.created,
    expires: r.expires ?? undefined,
    hasText: r.hasText,
    hasHtml: r.hasHtml,
  };
}

/** storage_disposition column values ↔ the StorageDisposition enum. */
const DISPOSITIONS: Record<string, contentV1.StorageDisposition> = {
  attachment: contentV1.StorageDisposition.STORAGE_DISPOSITION_ATTACHMENT,
  inline: contentV1.StorageDisposition.STORAGE_DISPOSITION_INLINE,
};

export function dispositionColumn(d: contentV1.StorageDisposition): string {
  return d === contentV1.StorageDisposition.STORAGE_DISPOSITION_INLINE ? 'inline' : 'attachment';
}

export function toAttachment(r: AttachmentRow): contentV1.Attachment {
  return {
    id: r.id,
    tenantId: r.tenantId,
    parentStorageKey: r.parentStorageKey,
    filename: r.filename ?? '',
    mimeType: r.mimeType,
    sizeBytes: BigInt(r.sizeBytes),
    storageDisposition: DISPOSITIONS[r.storageDisposition] ?? contentV1.StorageDisposition.STORAGE_DISPOSITION_UNSPECIFIED,
    created: r.created,
    sha256: r.sha256 ?? '',
  };
}

/** "26214400 bytes (25 MiB)": limits in errors name both the exact number and a readable one. */
export function bytesText(n: number): string {
  const mib = n / (1024 * 1024);
  return mib >= 1 && Number.isInteger(mib * 10) ? `${n} bytes (${mib} MiB)` : `${n} bytes`;
}

export function toTransactionalEmail(r: TransactionalEmailRow): contentV1.TransactionalEmail {
  return {
    id: r.id,
    tenantId: r.tenantId,
    recipientEmail: r.recipientEmail,
    recipientUserId: r.recipientUserId ?? '',
    kind: r.kind,
    subject: r.subject,
    status: statusEnum(r.status),
    providerMessageId: r.providerMessageId ?? '',
    statusDetail: r.statusDetail ?? '',
    bodyStorageKey: r.bodyStorageKey ?? '',
    created: r.created,
    updated: r.updated,
    sentAt: r.sentAt ?? undefined,
  };
}

export function toNotification(r: NotificationRow): contentV1.Notification {
  return {
    id: r.id,
    tenantId: r.tenantId,
    userId: r.userId,
    kind: r.kind,
    title: r.title,
    body: r.body,
    readAt: r.readAt ?? undefined,
    expires: r.expires ?? undefined,
    created: r.created,
  };
}

// Shared checks of the handlers (validation helpers, not domain rules).

const KIND_RE = /^[a-z][a-z0-9_]{0,49}$/;

/** A kind: lower_snake_case, up to 50 characters (password_reset, receipt, campaign_finished). */
export function checkKind(v: Validator, field: string, value: string): string {
  if (!value) v.add(field, 'REQUIRED', `${field} is required: lower_snake_case, e.g. password_reset`);
  else if (!KIND_RE.test(value)) v.add(field, 'MALFORMED', `${field} must be lower_snake_case (a-z, 0-9, _), starting with a letter, at most 50 characters`);
  return value;
}

/** PostgreSQL text cannot hold U+0000; say so instead of failing with INTERNAL. */
export function checkNoNul(v: Validator, field: string, value: string | undefined): void {
  if (value !== undefined && value.includes('\u0000'))
    v.add(field, 'MALFORMED', `${field} contains a NUL character (U+0000), which cannot be stored; remove it`);
}

/** An optional timestamp that must lie in the future. */
export function checkFutureTime(v: Validator, field: string, value: Date | undefined): Date | undefined {
  if (!value) return undefined;
  if (Number.isNaN(value.getTime()) || value.getTime() <= Date.now()) {
    v.add(field, 'OUT_OF_RANGE', `${field} must be in the future (or absent)`);
    return undefined;
  }
  return value;
}
