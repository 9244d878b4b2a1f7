import { NotFoundError, listPage, type KeysetCursor } from '@penguinmails/service-kit';
import type { Pool } from 'pg';
import { mapPrismaError, type PrismaClient } from '../db/prisma';
import { EMAIL_ACCOUNT_COLUMNS, type EmailAccountRow } from '../db/rows';

export type { EmailAccountRow };

// Mailboxes: address unique per tenant. Message refs reference them (ON DELETE RESTRICT), so
// a mailbox is archived (status archived), never deleted: its history stays whole.

export const DEFAULT_DAILY_SEND_LIMIT = 50;

export async function createEmailAccount(
  prisma: PrismaClient,
  input: Omit<EmailAccountRow, 'id' | 'hardBounceCount' | 'created' | 'updated'>,
): Promise<EmailAccountRow> {
  try {
    return await prisma.emailAccount.create({ data: input });
  } catch (err) {
    return mapPrismaError(err, 'email_account', input.email);
  }
}

export async function getEmailAccount(prisma: PrismaClient, tenantId: string, id: string): Promise<EmailAccountRow> {
  const a = await prisma.emailAccount.findFirst({ where: { id, tenantId } });
  if (!a) throw new NotFoundError('email_account', id);
  return a;
}

export async function updateEmailAccount(
  prisma: PrismaClient,
  tenantId: string,
  id: string,
  patch: Partial<Pick<EmailAccountRow, 'displayName' | 'dailySendLimit' | 'status'>>,
): Promise<EmailAccountRow> {
  try {
    return await prisma.emailAccount.update({ where: { id, tenantId }, data: patch });
  } catch (err) {
    return mapPrismaError(err, 'email_account', id);
  }
}

export function listEmailAccounts(pool: Pool, tenantId: string, f: { status?: string; provider?: string }, cursor: KeysetCursor | undefined, size: number) {
  return listPage<EmailAccountRow>(pool, {
    table: 'email_accounts',
    columns: EMAIL_ACCOUNT_COLUMNS,
    tenantId,
    filters: [['status', f.status], ['provider', f.provider]],
    cursor,
    size,
  });
}
