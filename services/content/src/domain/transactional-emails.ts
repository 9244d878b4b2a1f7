import { AlreadyExistsError, FailedPreconditionError, NotFoundError, withTransaction, type EventNames, type KeysetCursor } from '@penguinmails/service-kit';
import type { Pool } from 'pg';
import { findContentForReplay } from '../db/find-content-for-replay';
import { findTransactionalEmailForReplay } from '../db/find-transactional-email-for-replay';
import { insertContent } from '../db/insert-content';
import { insertContentRefs } from '../db/insert-content-refs';
import { insertTransactionalEmail, type NewTransactionalEmail } from '../db/insert-transactional-email';
import { listTransactionalEmails as listRows } from '../db/list-transactional-emails';
import { lockTransactionalEmail } from '../db/lock-transactional-email';
import type { PrismaClient } from '../db/prisma';
import type { TransactionalEmailRow } from '../db/rows';
import { updateTransactionalEmailStatus } from '../db/update-transactional-email-status';
import { contentV1 } from '@penguinmails/contracts';
import { emitContentStored, emitTransactionalEmailQueued, emitTransactionalEmailStatusChanged } from './events';
import { deleteExpired } from './retention';

export type { TransactionalEmailRow };

/**
 * The rules of `transactional_emails`: system mail (password resets, receipts, alerts) whose
 * body is a content object of this tier, stored in the same transaction with its own
 * content_refs row (no message ref will ever name it; without the row the orphan sweep would
 * collect it, see README "Orphans"). Status moves forward only.
 */

/** The key of an email's body: fixed by its id, so a retried create stores it once. */
export const bodyKey = (tenantId: string, id: string) => `${tenantId}/transactional/${id}`;

/** status column values, in the order of the TransactionalEmailStatus enum. */
export type EmailStatus = 'queued' | 'sent' | 'delivered' | 'bounced' | 'failed';

/** Where each status may go (same status again is a no-op, handled before). */
const NEXT: Record<EmailStatus, EmailStatus[]> = {
  queued: ['sent', 'delivered', 'bounced', 'failed'],
  sent: ['delivered', 'bounced', 'failed'],
  // A bounce report may arrive after the delivery report (asynchronous bounces).
  delivered: ['bounced'],
  bounced: [],
  failed: [],
};

export interface CreateTransactionalEmailInput extends Omit<NewTransactionalEmail, 'bodyStorageKey'> {
  contentText: string | null;
  contentHtml: string | null;
  bodyExpires: Date | null;
  sizes: { text: number; html: number };
}

/**
 * Stores the body (content_objects + its content_refs row), the email (queued) and their
 * ContentStored and TransactionalEmailQueued events in one transaction. A known id of this
 * tenant with the same fields and body is a replay (created = false, no event); anything else
 * under that id is ALREADY_EXISTS.
 */
export async function createTransactionalEmail(
  deps: { pool: Pool; names: EventNames },
  input: CreateTransactionalEmailInput,
): Promise<{ email: TransactionalEmailRow; created: boolean }> {
  const key = bodyKey(input.tenantId, input.id);
  const email: NewTransactionalEmail = { ...input, bodyStorageKey: key };
  const body = {
    storageKey: key,
    tenantId: input.tenantId,
    contentText: input.contentText,
    contentHtml: input.contentHtml,
    headersJson: null,
    rawSizeBytes: Math.min(input.sizes.text + input.sizes.html, 2_147_483_647),
    expires: input.bodyExpires,
  };
  return withTransaction(deps.pool, async (client) => {
    const replay = async (): Promise<{ email: TransactionalEmailRow; created: boolean }> => {
      const existing = await findTransactionalEmailForReplay(client, email);
      if (!existing) throw new AlreadyExistsError('transactional_email', input.id, `transactional_email_id ${input.id} is taken; choose another UUID or leave it empty`);
      // The body may have been deleted by retention since (body_storage_key null): the fields decide.
      const stored = existing.bodyStorageKey ? await findContentForReplay(client, body) : undefined;
      const sameBody = !stored || (stored.sameText && stored.sameHtml);
      if (!existing.same || !sameBody)
        throw new AlreadyExistsError(
          'transactional_email',
          input.id,
          `transactional_email_id ${input.id} already holds a different email; transactional emails are immutable: use a new id`,
        );
      const { same: _, ...row } = existing;
      return { email: row, created: false };
    };
    // A retry of a create that committed: answer it without touching the body.
    if (await findTransactionalEmailForReplay(client, email)) return replay();

    await deleteExpired(client, deps.names, { limit: 1, storageKey: key });
    const stored = await insertContent(client, body);
    const inserted = await insertTransactionalEmail(client, email);
    // Lost a race with a create of the same id (it committed the body and the row first).
    if (!inserted) return replay();
    if (!stored) {
      // Someone stored content under this key with PutContent; take it only when identical.
      const other = await findContentForReplay(client, body);
      if (!other || !other.sameText || !other.sameHtml || !other.sameHeaders)
        throw new AlreadyExistsError('content_object', key, `storage_key ${key} already holds other content`);
    } else {
      await emitContentStored(client, deps.names, input.tenantId, {
        storageKey: key,
        rawSizeBytes: BigInt(stored.rawSizeBytes),
        textSizeBytes: BigInt(input.sizes.text),
        htmlSizeBytes: BigInt(input.sizes.html),
        headersSizeBytes: 0n,
        created: stored.created,
        expires: stored.expires ?? undefined,
      });
    }
    // The body's own ref: no message ref will name it, and the orphan sweep collects unnamed content.
    await insertContentRefs(client, [{ tenantId: input.tenantId, storageKey: key, messageId: null }]);
    await emitTransactionalEmailQueued(client, deps.names, input.tenantId, {
      transactionalEmailId: inserted.id,
      kind: inserted.kind,
      bodyStorageKey: key,
      created: inserted.created,
    });
    return { email: inserted, created: true };
  });
}

/** The tenant's transactional email (Prisma: plain CRUD by primary key); NOT_FOUND when missing or foreign. */
export async function getTransactionalEmail(prisma: PrismaClient, tenantId: string, id: string): Promise<TransactionalEmailRow> {
  const row = await prisma.transactionalEmail.findFirst({ where: { id, tenantId } });
  if (!row) throw new NotFoundError('transactional_email', id);
  return row;
}

export function listTransactionalEmails(
  pool: Pool,
  tenantId: string,
  recipientEmail: string,
  cursor: KeysetCursor | undefined,
  size: number,
): Promise<{ rows: TransactionalEmailRow[]; next?: KeysetCursor }> {
  return listRows(pool, tenantId, recipientEmail, cursor, size);
}

const ENUM: Record<EmailStatus, contentV1.TransactionalEmailStatus> = {
  queued: contentV1.TransactionalEmailStatus.TRANSACTIONAL_EMAIL_STATUS_QUEUED,
  sent: contentV1.TransactionalEmailStatus.TRANSACTIONAL_EMAIL_STATUS_SENT,
  delivered: contentV1.TransactionalEmailStatus.TRANSACTIONAL_EMAIL_STATUS_DELIVERED,
  bounced: contentV1.TransactionalEmailStatus.TRANSACTIONAL_EMAIL_STATUS_BOUNCED,
  failed: contentV1.TransactionalEmailStatus.TRANSACTIONAL_EMAIL_STATUS_FAILED,
};
export const statusEnum = (s: string) => ENUM[s as EmailStatus] ?? contentV1.TransactionalEmailStatus.TRANSACTIONAL_EMAIL_STATUS_UNSPECIFIED;
export const statusColumn = (e: contentV1.TransactionalEmailStatus): EmailStatus | undefined =>
  (Object.keys(ENUM) as EmailStatus[]).find((k) => ENUM[k] === e);

/**
 * Moves the email to `status` with its TransactionalEmailStatusChanged event (row-locked: two
 * reports at once apply one after the other). The same status is a no-op (changed = false);
 * a move the table NEXT does not allow, or a provider_message_id other than the one set, is
 * FAILED_PRECONDITION.
 */
export async function updateStatus(
  deps: { pool: Pool; names: EventNames },
  u: { tenantId: string; id: string; status: EmailStatus; providerMessageId: string | null; statusDetail: string | null },
): Promise<{ email: TransactionalEmailRow; changed: boolean }> {
  return withTransaction(deps.pool, async (client) => {
    const row = await lockTransactionalEmail(client, u.tenantId, u.id);
    if (!row) throw new NotFoundError('transactional_email', u.id);
    const from = row.status as EmailStatus;
    if (u.providerMessageId && row.providerMessageId && u.providerMessageId !== row.providerMessageId)
      throw new FailedPreconditionError(
        `transactional_email/${u.id}`,
        `provider_message_id is already ${row.providerMessageId}; it is set once`,
      );
    if (from === u.status) return { email: row, changed: false };
    if (!NEXT[from].includes(u.status))
      throw new FailedPreconditionError(
        `transactional_email/${u.id}`,
        `cannot go from ${from} to ${u.status}${NEXT[from].length ? ` (allowed: ${NEXT[from].join(', ')})` : ` (${from} is final)`}`,
      );
    const updated = await updateTransactionalEmailStatus(client, { id: u.id, status: u.status, providerMessageId: u.providerMessageId, statusDetail: u.statusDetail });
    await emitTransactionalEmailStatusChanged(client, deps.names, u.tenantId, {
      transactionalEmailId: u.id,
      from: ENUM[from],
      to: ENUM[u.status],
      providerMessageId: updated.providerMessageId ?? '',
      changed: updated.updated,
    });
    return { email: updated, changed: true };
  });
}
