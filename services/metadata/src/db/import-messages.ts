import { randomUUID } from 'node:crypto';
import { MESSAGE_COLUMNS, type MessageRow, type MessageValues, type Queryable } from './rows';

/** An imported ref: the stored fields plus the times it had in the system it comes from. */
export interface ImportValues extends MessageValues {
  created: Date;
  processed: Date | null;
}

/**
 * Hand-written for the same reasons as insert-messages.ts (one unnest statement per batch,
 * `on conflict do nothing` on both keys, content_state from content_keys), plus the original
 * `created` and `processed`: ImportMessages keeps another system's history at its own times.
 * `updated` starts equal to `created` (the touch trigger only fires on update).
 */
export const IMPORT_MESSAGES = `
  insert into inbox_message_refs (
    id, tenant_id, email_account_id, campaign_id, lead_id, sequence_step_id, parent_message_id, direction,
    message_type, from_email, to_email, subject, status, content_storage_key, provider_message_id, client_key,
    bounce_type, content_state, created, updated, processed)
  select u.id, $1::uuid, u.email_account_id, u.campaign_id, u.lead_id, u.sequence_step_id, u.parent_message_id,
         u.direction, u.message_type, u.from_email, u.to_email, u.subject, u.status, u.content_storage_key,
         u.provider_message_id, u.client_key, u.bounce_type,
         coalesce((select k.state from content_keys k where k.tenant_id = $1::uuid and k.storage_key = u.content_storage_key), u.content_state),
         u.created, u.created, u.processed
    from unnest($2::uuid[], $3::uuid[], $4::uuid[], $5::uuid[], $6::uuid[], $7::uuid[], $8::varchar[], $9::varchar[],
                $10::varchar[], $11::varchar[], $12::varchar[], $13::varchar[], $14::varchar[], $15::varchar[], $16::varchar[],
                $17::varchar[], $18::varchar[], $19::timestamptz[], $20::timestamptz[])
      as u(id, email_account_id, campaign_id, lead_id, sequence_step_id, parent_message_id, direction, message_type,
           from_email, to_email, subject, status, content_storage_key, provider_message_id, client_key, bounce_type, content_state,
           created, processed)
  on conflict do nothing
  returning ${MESSAGE_COLUMNS}`;

/** Inserts the imported refs; returns the rows it inserted (a known key is skipped, not returned). */
export async function importMessages(db: Queryable, tenantId: string, inputs: ImportValues[]): Promise<MessageRow[]> {
  const col = <K extends keyof ImportValues>(k: K) => inputs.map((i) => i[k]);
  const { rows } = await db.query<MessageRow>(IMPORT_MESSAGES, [
    tenantId,
    inputs.map(() => randomUUID()),
    col('emailAccountId'),
    col('campaignId'),
    col('leadId'),
    col('sequenceStepId'),
    col('parentMessageId'),
    col('direction'),
    col('messageType'),
    col('fromEmail'),
    col('toEmail'),
    col('subject'),
    col('status'),
    col('contentStorageKey'),
    col('providerMessageId'),
    col('clientKey'),
    col('bounceType'),
    col('contentState'),
    col('created'),
    col('processed'),
  ]);
  return rows;
}
