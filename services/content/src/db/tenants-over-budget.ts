import type { Pool, PoolClient } from 'pg';

/** A tenant whose logical bytes exceed its budget. */
export interface TenantOverBudget {
  tenantId: string;
  totalBytes: number;
  budgetBytes: number;
}

/**
 * Tenants over their max_total_bytes (their own, else `defaultBytes`; 0 = no budget), from the
 * usage counters: a scan of tenant_usage (at most 16 small rows a tenant), never of the content;
 * `onlyTenant`: that tenant's rows only (tenant_usage_pkey).
 */
export async function tenantsOverBudget(db: Pool | PoolClient, defaultBytes: number, onlyTenant?: string): Promise<TenantOverBudget[]> {
  const { rows } = await db.query<TenantOverBudget>(
    `select u.tenant_id as "tenantId", u.total::float8 as "totalBytes", coalesce(p.max_total_bytes, $1::bigint)::float8 as "budgetBytes"
       from (select tenant_id, sum(body_bytes + attachment_bytes) as total from tenant_usage
              where $2::uuid is null or tenant_id = $2 group by tenant_id) u
       left join retention_policies p on p.tenant_id = u.tenant_id
      where coalesce(p.max_total_bytes, $1::bigint) > 0 and u.total > coalesce(p.max_total_bytes, $1::bigint)
      order by u.tenant_id`,
    [defaultBytes, onlyTenant ?? null],
  );
  return rows;
}
