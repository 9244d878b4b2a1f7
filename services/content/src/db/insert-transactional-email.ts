import type { PoolClient } from 'pg';
import { TRANSACTIONAL_EMAIL_COLUMNS, type TransactionalEmailRow } from './rows';

export interface NewTransactionalEmail {
  id: string;
  tenantId: string;
  recipientEmail: string;
  recipientUserId: string | null;
  kind: string;
  subject: string;
  bodyStorageKey: string;
}

/**
 * Inserts a queued transactional email, or does nothing when the id exists (undefined; the
 * caller compares, see findTransactionalEmailForReplay). Hand-written for `on conflict do
 * nothing` in the caller's transaction (the body and the events go in the same one).
 */
export async function insertTransactionalEmail(client: PoolClient, e: NewTransactionalEmail): Promise<TransactionalEmailRow | undefined> {
  const { rows } = await client.query<TransactionalEmailRow>(
    `insert into transactional_emails (id, tenant_id, recipient_email, recipient_user_id, kind, subject, body_storage_key)
     values ($1, $2, $3, $4, $5, $6, $7)
     on conflict (id) do nothing
     returning ${TRANSACTIONAL_EMAIL_COLUMNS}`,
    [e.id, e.tenantId, e.recipientEmail, e.recipientUserId, e.kind, e.subject, e.bodyStorageKey],
  );
  return rows[0];
}
