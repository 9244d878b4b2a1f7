import type { PoolClient } from 'pg';

/**
 * Takes the tenant's over-budget lock for this transaction, or answers false when another
 * sweeper holds it. Only one replica trims a tenant at a time: with `skip locked` alone, two
 * would each delete the excess (from the same committed usage) and remove twice too much.
 */
export async function tryLockTenantBudget(client: PoolClient, tenantId: string): Promise<boolean> {
  const { rows } = await client.query<{ ok: boolean }>(`select pg_try_advisory_xact_lock(hashtext('pm_content_budget'), hashtext($1)) as ok`, [tenantId]);
  return rows[0].ok;
}
