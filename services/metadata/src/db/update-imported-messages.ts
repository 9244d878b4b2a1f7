import { MESSAGE_COLUMNS, type MessageRow, type Queryable } from './rows';

export interface ImportUpdate {
  id: string;
  status: string;
  subject: string | null;
  processed: Date | null;
  contentStorageKey: string | null;
  contentState: string;
}

/**
 * Hand-written: an import's catch-up of known refs in one `update … from unnest` statement
 * (status, subject, processed and content key as the source system has them now; content_state
 * from content_keys when the key changed). Rows whose values are already these are not touched
 * (`is distinct from`), so a repeated import changes nothing, not even `updated`.
 */
export async function updateImportedMessages(db: Queryable, tenantId: string, updates: ImportUpdate[]): Promise<MessageRow[]> {
  if (updates.length === 0) return [];
  const col = <K extends keyof ImportUpdate>(k: K) => updates.map((u) => u[k]);
  const { rows } = await db.query<MessageRow>(
    `update inbox_message_refs m
        set status = u.status, subject = u.subject, processed = u.processed,
            content_state = case when m.content_storage_key is distinct from u.content_storage_key
              then coalesce((select k.state from content_keys k where k.tenant_id = $1::uuid and k.storage_key = u.content_storage_key), u.content_state)
              else m.content_state end,
            content_storage_key = u.content_storage_key
       from unnest($2::uuid[], $3::varchar[], $4::varchar[], $5::timestamptz[], $6::varchar[], $7::varchar[])
         as u(id, status, subject, processed, content_storage_key, content_state)
      where m.tenant_id = $1::uuid and m.id = u.id
        and (m.status, m.subject, m.processed, m.content_storage_key) is distinct from (u.status, u.subject, u.processed, u.content_storage_key)
      returning ${MESSAGE_COLUMNS.replace(/(^|,\s*)(\w+)/g, '$1m.$2')}`,
    [tenantId, col('id'), col('status'), col('subject'), col('processed'), col('contentStorageKey'), col('contentState')],
  );
  return rows;
}
