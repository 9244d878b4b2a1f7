import { listPage, type KeysetCursor } from '@penguinmails/service-kit';
import type { Pool } from 'pg';
import { TRANSACTIONAL_EMAIL_COLUMNS, type TransactionalEmailRow } from './rows';

/**
 * One page of a recipient's transactional emails, newest first: the kit's keyset paging over
 * transactional_emails_tenant_recipient_created_idx (tenant_id, recipient_email, created, id).
 */
export async function listTransactionalEmails(
  pool: Pool,
  tenantId: string,
  recipientEmail: string,
  cursor: KeysetCursor | undefined,
  size: number,
): Promise<{ rows: TransactionalEmailRow[]; next?: KeysetCursor }> {
  return listPage<TransactionalEmailRow>(pool, {
    table: 'transactional_emails',
    columns: TRANSACTIONAL_EMAIL_COLUMNS,
    tenantId,
    filters: [['recipient_email', recipientEmail]],
    cursor,
    size,
  });
}
