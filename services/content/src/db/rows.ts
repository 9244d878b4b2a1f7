/** A content object's metadata as the queries return it (no bodies). */
export interface ContentRow {
  storageKey: string;
  tenantId: string;
  rawSizeBytes: number;
  created: Date;
  expires: Date | null;
  hasText: boolean;
  hasHtml: boolean;
}

/** Select list of {@link ContentRow} over `content_objects`. */
export const CONTENT_COLUMNS = `storage_key as "storageKey", tenant_id as "tenantId", raw_size_bytes as "rawSizeBytes",
  created, expires, content_text is not null as "hasText", content_html is not null as "hasHtml"`;

/** An attachment's metadata (no bytes). */
export interface AttachmentRow {
  id: string;
  tenantId: string;
  parentStorageKey: string;
  filename: string | null;
  mimeType: string;
  sizeBytes: number;
  storageDisposition: string;
  created: Date;
  /** SHA-256 (hex) of the bytes; null only for an inline row a previous version wrote. */
  sha256: string | null;
}

/** Select list of {@link AttachmentRow} over `attachments` (unqualified: no other table in scope). */
export const ATTACHMENT_COLUMNS = `id, tenant_id as "tenantId", parent_storage_key as "parentStorageKey", filename,
  mime_type as "mimeType", size_bytes as "sizeBytes", storage_disposition as "storageDisposition", created,
  encode(sha256, 'hex') as sha256`;

/**
 * Over `attachments`: an attachment's bytes — from its blob, or inline for a row a previous
 * version wrote (readers use coalesce(blob, inline), see README "blobs").
 */
export const ATTACHMENT_BYTES = `coalesce((select b.content from blobs b where b.tenant_id = attachments.tenant_id and b.sha256 = attachments.sha256),
                     attachments.content)`;

/**
 * The where clause of a lookup of one live attachment by `id = $1 and tenant_id = $2`: its parent
 * object exists and has not expired (an expired object is gone for every RPC before the sweeper
 * deletes it).
 */
export const LIVE_ATTACHMENT_BY_ID = `id = $1 and tenant_id = $2
        and exists (select 1 from content_objects c
                     where c.storage_key = attachments.parent_storage_key and (c.expires is null or c.expires > now()))`;

/** A transactional email as the queries return it (status as the column's text). */
export interface TransactionalEmailRow {
  id: string;
  tenantId: string;
  recipientEmail: string;
  recipientUserId: string | null;
  kind: string;
  subject: string;
  status: string;
  providerMessageId: string | null;
  statusDetail: string | null;
  bodyStorageKey: string | null;
  created: Date;
  updated: Date;
  sentAt: Date | null;
}

export const TRANSACTIONAL_EMAIL_COLUMNS = `id, tenant_id as "tenantId", recipient_email as "recipientEmail",
  recipient_user_id as "recipientUserId", kind, subject, status, provider_message_id as "providerMessageId",
  status_detail as "statusDetail", body_storage_key as "bodyStorageKey", created, updated, sent_at as "sentAt"`;

/** An in-app notification. */
export interface NotificationRow {
  id: string;
  tenantId: string;
  userId: string;
  kind: string;
  title: string;
  body: string;
  readAt: Date | null;
  expires: Date | null;
  created: Date;
}

export const NOTIFICATION_COLUMNS = `id, tenant_id as "tenantId", user_id as "userId", kind, title, body,
  read_at as "readAt", expires, created`;

/** A deleted object as a delete's `returning` reports it. */
export interface DeletedContent {
  storageKey: string;
  tenantId: string;
  attachmentsDeleted: number;
}

/**
 * `returning` list of {@link DeletedContent} for a `delete from content_objects c`. The count
 * reads the statement's snapshot, i.e. the attachments before the cascade removed them.
 */
export const DELETED_RETURNING = `c.storage_key as "storageKey", c.tenant_id as "tenantId",
  (select count(*) from attachments a where a.parent_storage_key = c.storage_key)::int as "attachmentsDeleted"`;

/** "Not expired", the filter of every read: an expired object is gone before the sweeper gets to it. */
export const LIVE = `(expires is null or expires > now())`;

/** An object a retention sweep may delete, locked, with its logical size. */
export interface PurgeCandidate {
  storageKey: string;
  tenantId: string;
  /** Body bytes (pm_body_bytes) + its attachments' sizes: what deleting it frees, logically. */
  bytes: number;
}

/**
 * Select list of {@link PurgeCandidate} over `content_objects c`. The size is read from the
 * TOAST pointers (octet_length; headers are small) and the attachments' size_bytes
 * (attachments_parent_created_idx): no body or attachment byte is read.
 */
export const PURGE_CANDIDATE_COLUMNS = `c.storage_key as "storageKey", c.tenant_id as "tenantId",
  (pm_body_bytes(c.content_text, c.content_html, c.headers)
   + coalesce((select sum(a.size_bytes) from attachments a where a.parent_storage_key = c.storage_key), 0))::float8 as bytes`;
