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

/** "Not expired", the filter of every read: an expired object is gone before the sweeper gets to it. */
export const LIVE = `(expires is null or expires > now())`;
