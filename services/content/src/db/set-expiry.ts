import type { PoolClient } from 'pg';
import { CONTENT_COLUMNS, LIVE, type ContentRow } from './rows';

/**
 * Sets a live object's expiry and its exemption from the retention policy; undefined when the
 * tenant has no live object under the key. A primary-key update.
 */
export async function setExpiry(
  client: PoolClient,
  opts: { tenantId: string; storageKey: string; expires: Date | null; policyExempt: boolean },
): Promise<(ContentRow & { policyExempt: boolean }) | undefined> {
  const { rows } = await client.query<ContentRow & { policyExempt: boolean }>(
    `update content_objects set expires = $3, policy_exempt = $4
      where storage_key = $1 and tenant_id = $2 and ${LIVE}
      returning ${CONTENT_COLUMNS}, policy_exempt as "policyExempt"`,
    [opts.storageKey, opts.tenantId, opts.expires, opts.policyExempt],
  );
  return rows[0];
}
