import type { PoolClient } from 'pg';
import { TRANSACTIONAL_EMAIL_COLUMNS, type TransactionalEmailRow } from './rows';

/** The tenant's transactional email, row-locked until the transaction ends (a status change reads, checks, writes). */
export async function lockTransactionalEmail(client: PoolClient, tenantId: string, id: string): Promise<TransactionalEmailRow | undefined> {
  const { rows } = await client.query<TransactionalEmailRow>(
    `select ${TRANSACTIONAL_EMAIL_COLUMNS} from transactional_emails where id = $1 and tenant_id = $2 for update`,
    [id, tenantId],
  );
  return rows[0];
}
