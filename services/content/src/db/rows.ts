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
}

/** Select list of {@link AttachmentRow} over `attachments`. */
export const ATTACHMENT_COLUMNS = `id, tenant_id as "tenantId", parent_storage_key as "parentStorageKey", filename,
  mime_type as "mimeType", size_bytes as "sizeBytes", storage_disposition as "storageDisposition", created`;

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
