import { randomUUID } from 'node:crypto';
import { metadataV1 } from '@penguinmails/contracts';
import {
  FailedPreconditionError,
  InvalidArgumentError,
  NotFoundError,
  outboxInsert,
  outboxInsertMany,
  withTransaction,
  type EventNames,
} from '@penguinmails/service-kit';
import type { Pool, PoolClient } from 'pg';
import { CURSOR_COLUMNS, pageOf, seekPredicate, type Cursor } from '../db/keyset';
import { INSERT_MESSAGES, MESSAGE_COLUMNS, SELECT_BY_KEYS, THREAD } from '../db/messages-sql';
import { direction, messageStatus, messageType } from './enums';
import { EVENTS, outboxRow } from './events';

/**
 * Status transitions of a message ref (see MessageStatus in resources.proto). Setting the
 * current status again is a no-op (webhooks repeat themselves); anything else not listed is
 * FAILED_PRECONDITION, e.g. a late "delivered" after "opened" does not move the ref back.
 */
export const MESSAGE_TRANSITIONS: Record<string, readonly string[]> = {
  queued: ['sent', 'failed'],
  sent: ['delivered', 'opened', 'clicked', 'replied', 'bounced', 'failed'],
  delivered: ['opened', 'clicked', 'replied', 'bounced'],
  opened: ['clicked', 'replied'],
  clicked: ['replied'],
  received: [],
  replied: [],
  bounced: [],
  failed: [],
};
export const INITIAL_STATUSES: Record<string, readonly string[]> = { inbound: ['received'], outbound: ['queued', 'sent', 'failed'] };
export const DEFAULT_STATUS: Record<string, string> = { inbound: 'received', outbound: 'sent' };

export interface MessageRow {
  id: string;
  tenantId: string;
  emailAccountId: string;
  campaignId: string | null;
  leadId: string | null;
  sequenceStepId: string | null;
  parentMessageId: string | null;
  direction: string;
  messageType: string;
  fromEmail: string;
  toEmail: string;
  subject: string | null;
  status: string;
  contentStorageKey: string | null;
  providerMessageId: string | null;
  clientKey: string | null;
  processed: Date | null;
  created: Date;
  updated: Date;
}

/** A validated MessageInput (db values; null for absent). `field` prefixes error field paths. */
export interface MessageInsert extends Omit<MessageRow, 'id' | 'tenantId' | 'processed' | 'created' | 'updated'> {
  field: string;
}

export function messageToProto(r: MessageRow): metadataV1.MessageRef {
  return {
    id: r.id,
    tenantId: r.tenantId,
    emailAccountId: r.emailAccountId,
    campaignId: r.campaignId ?? '',
    leadId: r.leadId ?? '',
    sequenceStepId: r.sequenceStepId ?? '',
    parentMessageId: r.parentMessageId ?? '',
    direction: direction.fromDb(r.direction),
    messageType: messageType.fromDb(r.messageType),
    fromEmail: r.fromEmail,
    toEmail: r.toEmail,
    subject: r.subject ?? '',
    status: messageStatus.fromDb(r.status),
    contentStorageKey: r.contentStorageKey ?? '',
    providerMessageId: r.providerMessageId ?? '',
    clientKey: r.clientKey ?? '',
    processed: r.processed ?? undefined,
    created: r.created,
    updated: r.updated,
  };
}

/**
 * Every id a batch references must exist for this tenant: one `= any($2)` query per table.
 * A foreign tenant's id is simply not found (NOT_FOUND, nothing written). A sequence step must
 * belong to the message's campaign.
 */
/**
 * Every reference of the inputs, checked against this tenant in ONE round trip (a union of
 * index lookups by primary key; empty arrays cost nothing). One query per table made 7 round
 * trips a RecordMessage with mailbox, campaign and lead; this makes 5. Measured with
 * `npm run bench -- --only grpc --quick`, two alternating A/B runs on 2 busy cores: calls/s
 * went 89→96 and 167→174 at concurrency 1, 257→276 and 301→334 at 8, 322→422 and 393→469 at 32.
 * Run inside the recording transaction, so the rows cannot change tenant before the insert.
 */
const REFERENCES_SQL = `
  select 'email_account' as kind, id::text, null::text as campaign_id from email_accounts where tenant_id = $1 and id = any($2::uuid[])
  union all
  select 'campaign', id::text, null from campaigns where tenant_id = $1 and id = any($3::uuid[])
  union all
  select 'lead', id::text, null from leads where tenant_id = $1 and id = any($4::uuid[])
  union all
  select 'message', id::text, null from inbox_message_refs where tenant_id = $1 and id = any($5::uuid[])
  union all
  select 'sequence_step', id::text, campaign_id::text from campaign_sequence_steps where tenant_id = $1 and id = any($6::uuid[])`;

/** In the order a missing reference is reported. */
const REFERENCE_KINDS: [kind: string, key: keyof MessageInsert][] = [
  ['email_account', 'emailAccountId'],
  ['campaign', 'campaignId'],
  ['lead', 'leadId'],
  ['message', 'parentMessageId'],
  ['sequence_step', 'sequenceStepId'],
];

async function checkReferences(c: PoolClient, tenantId: string, inputs: MessageInsert[]): Promise<void> {
  const idsOf = (key: keyof MessageInsert) => [...new Set(inputs.map((i) => i[key] as string | null).filter((v): v is string => !!v))];
  const wanted = REFERENCE_KINDS.map(([kind, key]) => [kind, idsOf(key)] as const);
  if (wanted.every(([, ids]) => ids.length === 0)) return;
  const { rows } = await c.query<{ kind: string; id: string; campaign_id: string | null }>(REFERENCES_SQL, [tenantId, ...wanted.map(([, ids]) => ids)]);
  const found = new Set(rows.map((r) => `${r.kind}/${r.id}`));
  for (const [kind, ids] of wanted) {
    const missing = ids.find((id) => !found.has(`${kind}/${id}`));
    if (missing) throw new NotFoundError(kind, missing);
  }
  const campaignOf = new Map(rows.filter((r) => r.kind === 'sequence_step').map((r) => [r.id, r.campaign_id]));
  const wrong = inputs.find((i) => i.sequenceStepId && campaignOf.get(i.sequenceStepId) !== i.campaignId);
  if (wrong) {
    throw new InvalidArgumentError([
      { field: `${wrong.field}.sequence_step_id`, reason: 'MISMATCH', description: 'the sequence step must belong to the message\'s campaign_id (set campaign_id to the step\'s campaign)' },
    ]);
  }
}

/**
 * RecordMessage / BatchRecordMessages: one transaction, all or nothing. Returns one result per
 * input in input order; `created` is false for a key that was known (or repeated in the batch).
 */
export async function recordMessages(
  pool: Pool,
  names: EventNames,
  tenantId: string,
  inputs: MessageInsert[],
): Promise<{ row: MessageRow; created: boolean }[]> {
  return withTransaction(pool, async (c) => {
    await checkReferences(c, tenantId, inputs);
    const col = <K extends keyof MessageInsert>(k: K) => inputs.map((i) => i[k]);
    const inserted = await c.query<MessageRow>(INSERT_MESSAGES, [
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
    ]);
    const created = new Set(inserted.rows.map((r) => r.id));
    let rows = inserted.rows;
    if (inserted.rows.length < inputs.length) {
      const existing = await c.query<MessageRow>(SELECT_BY_KEYS, [
        tenantId,
        inputs.map((i) => i.providerMessageId).filter(Boolean),
        inputs.map((i) => i.clientKey).filter(Boolean),
      ]);
      rows = [...rows, ...existing.rows.filter((r) => !created.has(r.id))];
    }
    const byProvider = new Map(rows.filter((r) => r.providerMessageId).map((r) => [r.providerMessageId!, r]));
    const byClient = new Map(rows.filter((r) => r.clientKey).map((r) => [r.clientKey!, r]));
    const seen = new Set<string>();
    const results = inputs.map((i) => {
      const row = (i.providerMessageId && byProvider.get(i.providerMessageId)) || (i.clientKey && byClient.get(i.clientKey));
      if (!row) throw new Error(`recorded message for ${i.field} not found after insert`);
      const isNew = created.has(row.id) && !seen.has(row.id);
      seen.add(row.id);
      return { row, created: isNew };
    });
    if (inserted.rows.length) {
      const q = outboxInsertMany(inserted.rows.map((r) => outboxRow(names, EVENTS.messageRecorded, tenantId, { message: messageToProto(r) })));
      await c.query(q.text, q.values);
    }
    return results;
  });
}

export async function getMessage(pool: Pool, tenantId: string, id: string): Promise<MessageRow> {
  const { rows } = await pool.query<MessageRow>(`select ${MESSAGE_COLUMNS} from inbox_message_refs where tenant_id = $1 and id = $2`, [tenantId, id]);
  if (rows.length === 0) throw new NotFoundError('message', id);
  return rows[0];
}

export interface MessageFilters {
  campaignId?: string;
  emailAccountId?: string;
  leadId?: string;
  direction?: string;
  messageType?: string;
  status?: string;
  processed?: boolean;
  createdFrom?: Date;
  createdTo?: Date;
}

/**
 * ListMessages: tenant + filters, newest first, keyset cursor. Equality filters use the
 * (tenant_id, <column>, created, id) indexes; `processed = false` with a campaign uses the
 * partial unprocessed index. EXPLAIN ANALYZE on 200k refs: a mailbox's latest 50 0.28 ms
 * (index scan backward), the next page 0.16 ms; before tenant_id led the mailbox index it
 * was a BitmapAnd + top-N sort over the mailbox's 2000 rows, 8.6 ms.
 */
export async function listMessages(pool: Pool, tenantId: string, f: MessageFilters, cursor: Cursor | undefined, size: number) {
  const values: unknown[] = [tenantId];
  const where = ['tenant_id = $1'];
  const eq = (column: string, value: unknown) => {
    if (value === undefined) return;
    values.push(value);
    where.push(`${column} = $${values.length}`);
  };
  eq('campaign_id', f.campaignId);
  eq('email_account_id', f.emailAccountId);
  eq('lead_id', f.leadId);
  eq('direction', f.direction);
  eq('message_type', f.messageType);
  eq('status', f.status);
  if (f.processed === true) where.push('processed is not null');
  if (f.processed === false) where.push('processed is null');
  if (f.createdFrom) {
    values.push(f.createdFrom);
    where.push(`created >= $${values.length}`);
  }
  if (f.createdTo) {
    values.push(f.createdTo);
    where.push(`created < $${values.length}`);
  }
  if (cursor) {
    values.push(cursor.c, cursor.i);
    where.push(seekPredicate(values.length - 1));
  }
  values.push(size + 1);
  const { rows } = await pool.query<MessageRow & { cursor_us: string }>(
    `select ${MESSAGE_COLUMNS}, ${CURSOR_COLUMNS} from inbox_message_refs
      where ${where.join(' and ')}
      order by created desc, id desc
      limit $${values.length}`,
    values,
  );
  const page = pageOf(rows, size);
  return { rows: page.rows.map(({ cursor_us: _, ...r }) => r as MessageRow), next: page.next };
}

export async function getThread(pool: Pool, tenantId: string, id: string): Promise<{ rows: MessageRow[]; rootId: string }> {
  const { rows } = await pool.query<MessageRow & { rootId: string }>(THREAD, [tenantId, id]);
  if (rows.length === 0) throw new NotFoundError('message', id);
  return { rows: rows.map(({ rootId: _, ...r }) => r as MessageRow), rootId: rows[0].rootId };
}

/** UpdateMessageStatus: row locked, transition checked, MessageStatusChanged in the same transaction. */
export async function updateMessageStatus(pool: Pool, names: EventNames, tenantId: string, id: string, status: string): Promise<MessageRow> {
  return withTransaction(pool, async (c) => {
    const cur = await c.query<MessageRow>(`select ${MESSAGE_COLUMNS} from inbox_message_refs where tenant_id = $1 and id = $2 for update`, [tenantId, id]);
    if (cur.rowCount === 0) throw new NotFoundError('message', id);
    const old = cur.rows[0];
    if (old.status === status) return old;
    if (!MESSAGE_TRANSITIONS[old.status]?.includes(status)) {
      throw new FailedPreconditionError(
        `message ${id}`,
        `a ${old.status} message cannot become ${status}; allowed: ${MESSAGE_TRANSITIONS[old.status]?.join(', ') || 'none (final)'}`,
      );
    }
    const { rows } = await c.query<MessageRow>(
      `update inbox_message_refs set status = $3, updated = now() where tenant_id = $1 and id = $2 returning ${MESSAGE_COLUMNS}`,
      [tenantId, id, status],
    );
    const row = rows[0];
    const q = outboxInsert(
      outboxRow(names, EVENTS.messageStatusChanged, tenantId, {
        messageId: id,
        emailAccountId: row.emailAccountId,
        campaignId: row.campaignId ?? '',
        leadId: row.leadId ?? '',
        sequenceStepId: row.sequenceStepId ?? '',
        oldStatus: messageStatus.fromDb(old.status),
        newStatus: messageStatus.fromDb(status),
        changedAt: row.updated,
      }),
    );
    await c.query(q.text, q.values);
    return row;
  });
}

/** MarkProcessed: sets `processed` once; a repeat keeps the first time. */
export async function markProcessed(pool: Pool, tenantId: string, id: string, at: Date | undefined): Promise<MessageRow> {
  const { rows } = await pool.query<MessageRow>(
    `update inbox_message_refs set processed = coalesce(processed, $3::timestamptz, now())
      where tenant_id = $1 and id = $2 returning ${MESSAGE_COLUMNS}`,
    [tenantId, id, at ?? null],
  );
  if (rows.length === 0) throw new NotFoundError('message', id);
  return rows[0];
}
