import { contentV1 } from '@penguinmails/contracts';
import type { AttachmentRow } from '../domain/attachments';
import type { ContentRow } from '../domain/content';

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
  };
}

/** "26214400 bytes (25 MiB)": limits in errors name both the exact number and a readable one. */
export function bytesText(n: number): string {
  const mib = n / (1024 * 1024);
  return mib >= 1 && Number.isInteger(mib * 10) ? `${n} bytes (${mib} MiB)` : `${n} bytes`;
}
