import type { PoolClient } from 'pg';
import { TRANSACTIONAL_EMAIL_COLUMNS, type TransactionalEmailRow } from './rows';
import type { NewTransactionalEmail } from './insert-transactional-email';

/**
 * The tenant's transactional email under the id, and whether its fields equal the request
 * (the body is compared separately, see findContentForReplay). Undefined when the id is not
 * this tenant's.
 */
export async function findTransactionalEmailForReplay(
  client: PoolClient,
  e: NewTransactionalEmail,
): Promise<(TransactionalEmailRow & { same: boolean }) | undefined> {
  const { rows } = await client.query(
    `select ${TRANSACTIONAL_EMAIL_COLUMNS},
            (recipient_email = $3 and recipient_user_id is not distinct from $4::uuid and kind = $5 and subject = $6) as same
       from transactional_emails
      where id = $1 and tenant_id = $2`,
    [e.id, e.tenantId, e.recipientEmail, e.recipientUserId, e.kind, e.subject],
  );
  return rows[0];
}
