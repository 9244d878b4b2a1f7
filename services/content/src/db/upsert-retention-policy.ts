import type { PoolClient } from 'pg';

/** A tenant's own policy columns (null: the service default). */
export interface RetentionPolicyRow {
  maxAgeDays: number | null;
  maxTotalBytes: string | null;
}

/** Sets the tenant's policy (absolute values; null = default). `insert … on conflict do update`. */
export async function upsertRetentionPolicy(
  client: PoolClient,
  opts: { tenantId: string; maxAgeDays: number | null; maxTotalBytes: bigint | null },
): Promise<void> {
  await client.query(
    `insert into retention_policies (tenant_id, max_age_days, max_total_bytes) values ($1, $2, $3)
     on conflict (tenant_id) do update set max_age_days = excluded.max_age_days, max_total_bytes = excluded.max_total_bytes, updated = now()`,
    [opts.tenantId, opts.maxAgeDays, opts.maxTotalBytes === null ? null : opts.maxTotalBytes.toString()],
  );
}
