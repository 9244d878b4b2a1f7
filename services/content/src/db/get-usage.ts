import type { Pool } from 'pg';

/** A tenant's counters (sum of its shards) and its expiring-soon counts. */
export interface UsageRow {
  bodyCount: string;
  bodyBytes: string;
  transactionalBodyCount: string;
  transactionalBodyBytes: string;
  attachmentCount: string;
  attachmentBytes: string;
  blobCount: string;
  blobBytes: string;
  transactionalEmailCount: string;
  expiringDay: string;
  expiringWeek: string;
  expiringMonth: string;
}

/**
 * Hand-written: the counters are the sum of up to 16 shard rows (tenant_usage_pkey), and the
 * expiring counts one index-only range of content_objects_tenant_expires_idx per tenant
 * (bounded by what the tenant has expiring within 30 days), never a scan of the content.
 */
export async function getUsage(pool: Pool, tenantId: string): Promise<UsageRow> {
  const { rows } = await pool.query<UsageRow>(
    `select coalesce(sum(body_count), 0)::text as "bodyCount", coalesce(sum(body_bytes), 0)::text as "bodyBytes",
            coalesce(sum(transactional_body_count), 0)::text as "transactionalBodyCount",
            coalesce(sum(transactional_body_bytes), 0)::text as "transactionalBodyBytes",
            coalesce(sum(attachment_count), 0)::text as "attachmentCount", coalesce(sum(attachment_bytes), 0)::text as "attachmentBytes",
            coalesce(sum(blob_count), 0)::text as "blobCount", coalesce(sum(blob_bytes), 0)::text as "blobBytes",
            coalesce(sum(transactional_email_count), 0)::text as "transactionalEmailCount",
            e.day::text as "expiringDay", e.week::text as "expiringWeek", e.month::text as "expiringMonth"
       from (select count(*) filter (where expires <= now() + interval '1 day') as day,
                    count(*) filter (where expires <= now() + interval '7 days') as week,
                    count(*) as month
               from content_objects
              where tenant_id = $1 and expires is not null and expires > now() and expires <= now() + interval '30 days') e
       left join tenant_usage u on u.tenant_id = $1
      group by e.day, e.week, e.month`,
    [tenantId],
  );
  return rows[0];
}
