import type { Pool } from 'pg';
import { getUsage as getUsageRow } from '../db/get-usage';

/** A tenant's usage (see GetUsageResponse): counts and logical / stored bytes, and what expires soon. */
export interface Usage {
  bodies: { count: bigint; bytes: bigint };
  transactionalBodies: { count: bigint; bytes: bigint };
  attachments: { count: bigint; bytes: bigint };
  attachmentBlobs: { count: bigint; bytes: bigint };
  transactionalEmails: bigint;
  totalLogicalBytes: bigint;
  totalStoredBytes: bigint;
  expiring: { nextDay: bigint; nextWeek: bigint; nextMonth: bigint };
}

/**
 * The tenant's usage from its counters (tenant_usage, kept by triggers in the writing
 * transactions) and one index range for the expiring counts. A tenant with nothing stored is
 * all zeros, not NOT_FOUND: tenants are the metadata tier's, this tier cannot tell an unknown
 * tenant from an empty one.
 */
export async function getUsage(pool: Pool, tenantId: string): Promise<Usage> {
  const r = await getUsageRow(pool, tenantId);
  const b = BigInt;
  return {
    bodies: { count: b(r.bodyCount), bytes: b(r.bodyBytes) },
    transactionalBodies: { count: b(r.transactionalBodyCount), bytes: b(r.transactionalBodyBytes) },
    attachments: { count: b(r.attachmentCount), bytes: b(r.attachmentBytes) },
    attachmentBlobs: { count: b(r.blobCount), bytes: b(r.blobBytes) },
    transactionalEmails: b(r.transactionalEmailCount),
    totalLogicalBytes: b(r.bodyBytes) + b(r.attachmentBytes),
    totalStoredBytes: b(r.bodyBytes) + b(r.blobBytes),
    expiring: { nextDay: b(r.expiringDay), nextWeek: b(r.expiringWeek), nextMonth: b(r.expiringMonth) },
  };
}
