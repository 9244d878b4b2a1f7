import { randomUUID } from 'node:crypto';
import { MESSAGE_COLUMNS, type MessageRow, type MessageValues, type Queryable } from './rows';

/**
 * Hand-written: a bulk insert, idempotent on either unique key. `on conflict do nothing`
 * without a target covers both (tenant_id, provider_message_id) and (tenant_id, client_key) (and the
 * primary key, for an id an import keeps: its caller checks that a skipped row was its own); a
 * concurrent duplicate blocks on the unique index until the first transaction commits and is
 * then skipped, so two racing RecordMessage calls make one row. unnest() sends the whole batch
 * in one statement: 1000 refs in one round trip instead of 1000. A ref's content_state is what
 * content_keys knows of its key (the content tier's event may have come first: IngestMessage
 * stores the content before the ref), else the caller's starting state; the primary-key lookup
 * rides in the same statement. `created` and `processed` are the database's now and null for a
 * ref recorded here, and the original times for one ImportMessages brings from another system
 * (`updated` starts equal to `created`: the touch trigger only fires on update). (Exported for
 * bench/.)
 */
export const INSERT_MESSAGES = `
  insert into inbox_message_refs (
    id, tenant_id, email_account_id, campaign_id, lead_id, sequence_step_id, parent_message_id, direction,
    message_type, from_email, to_email, subject, status, content_storage_key, provider_message_id, client_key,
    bounce_type, content_state, created, updated, processed)
  select u.id, $1::uuid, u.email_account_id, u.campaign_id, u.lead_id, u.sequence_step_id, u.parent_message_id,
         u.direction, u.message_type, u.from_email, u.to_email, u.subject, u.status, u.content_storage_key,
         u.provider_message_id, u.client_key, u.bounce_type,
         coalesce((select k.state from content_keys k where k.tenant_id = $1::uuid and k.storage_key = u.content_storage_key), u.content_state),
         coalesce(u.created, now()), coalesce(u.created, now()), u.processed
    from unnest($2::uuid[], $3::uuid[], $4::uuid[], $5::uuid[], $6::uuid[], $7::uuid[], $8::varchar[], $9::varchar[],
                $10::varchar[], $11::varchar[], $12::varchar[], $13::varchar[], $14::varchar[], $15::varchar[], $16::varchar[],
                $17::varchar[], $18::varchar[], $19::timestamptz[], $20::timestamptz[])
      as u(id, email_account_id, campaign_id, lead_id, sequence_step_id, parent_message_id, direction, message_type,
           from_email, to_email, subject, status, content_storage_key, provider_message_id, client_key, bounce_type, content_state,
           created, processed)
  on conflict do nothing
  returning ${MESSAGE_COLUMNS}`;

/** A ref to insert: its fields, and for an imported one the times it had where it comes from. */
export interface InsertValues extends MessageValues {
  created?: Date;
  processed?: Date | null;
  /** The ref's id when the caller keeps one (ImportMessages); else a new UUID. */
  id?: string;
}

/** Inserts the refs; returns the rows it inserted (a known key is skipped, not returned). */
export async function insertMessages(db: Queryable, tenantId: string, inputs: InsertValues[]): Promise<MessageRow[]> {
  const col = <K extends keyof InsertValues>(k: K) => inputs.map((i) => i[k] ?? null);
  const { rows } = await db.query<MessageRow>(INSERT_MESSAGES, [
    tenantId,
    inputs.map((i) => i.id ?? randomUUID()),
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
