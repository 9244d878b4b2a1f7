import type { Queryable } from './rows';

/** What reply linking needs of a candidate parent. */
export interface ParentCandidate {
  id: string;
  providerMessageId: string;
  campaignId: string | null;
  sequenceStepId: string | null;
  leadId: string | null;
}

/**
 * Hand-written: the refs of this tenant whose provider_message_id is one of `ids` (the
 * In-Reply-To and References of the messages being recorded), in one statement. `= any()` on
 * the unique index (tenant_id, provider_message_id): one index probe per id, whatever the
 * table's size.
 */
export async function selectMessagesByProviderIds(db: Queryable, tenantId: string, ids: string[]): Promise<ParentCandidate[]> {
  if (ids.length === 0) return [];
  const { rows } = await db.query<ParentCandidate>(
    `select id, provider_message_id as "providerMessageId", campaign_id as "campaignId",
            sequence_step_id as "sequenceStepId", lead_id as "leadId"
       from inbox_message_refs where tenant_id = $1 and provider_message_id = any($2::varchar[])`,
    [tenantId, ids],
  );
  return rows;
}
