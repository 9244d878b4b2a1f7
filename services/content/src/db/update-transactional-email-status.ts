import type { PoolClient } from 'pg';
import { TRANSACTIONAL_EMAIL_COLUMNS, type TransactionalEmailRow } from './rows';

/**
 * Sets the status of a locked row (the domain checked the transition), the provider's id and
 * the detail when given, `updated`, and `sent_at` the first time the email left (sent,
 * delivered or bounced). Hand-written for the conditional sent_at in one statement.
 */
export async function updateTransactionalEmailStatus(
  client: PoolClient,
  u: { id: string; status: string; providerMessageId: string | null; statusDetail: string | null },
): Promise<TransactionalEmailRow> {
  const { rows } = await client.query<TransactionalEmailRow>(
    `update transactional_emails
        set status = $2::varchar,
            provider_message_id = coalesce($3, provider_message_id),
            status_detail = coalesce($4, status_detail),
            updated = now(),
            sent_at = case when sent_at is null and $2::varchar in ('sent', 'delivered', 'bounced') then now() else sent_at end
      where id = $1
      returning ${TRANSACTIONAL_EMAIL_COLUMNS}`,
    [u.id, u.status, u.providerMessageId, u.statusDetail],
  );
  return rows[0];
}
