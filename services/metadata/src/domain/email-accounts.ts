import { metadataV1 } from '@penguinmails/contracts';
import { NotFoundError } from '@penguinmails/service-kit';
import type { Pool } from 'pg';
import { listRows } from '../db/list';
import type { Cursor } from '../db/keyset';
import { mapPrismaError, type PrismaClient } from '../db/prisma';
import { emailAccountStatus, emailProvider } from './enums';

// Mailboxes: address unique per tenant. Message refs reference them (ON DELETE RESTRICT), so
// a mailbox is archived (status archived), never deleted: its history stays whole.

export interface EmailAccountRow {
  id: string;
  tenantId: string;
  email: string;
  displayName: string | null;
  provider: string;
  dailySendLimit: number;
  status: string;
  created: Date;
  updated: Date;
}

const COLUMNS = `id, tenant_id as "tenantId", email, display_name as "displayName", provider,
  daily_send_limit as "dailySendLimit", status, created, updated`;

export const DEFAULT_DAILY_SEND_LIMIT = 50;

export function emailAccountToProto(r: EmailAccountRow): metadataV1.EmailAccount {
  return {
    id: r.id,
    tenantId: r.tenantId,
    email: r.email,
    displayName: r.displayName ?? '',
    provider: emailProvider.fromDb(r.provider),
    dailySendLimit: r.dailySendLimit,
    status: emailAccountStatus.fromDb(r.status),
    created: r.created,
    updated: r.updated,
  };
}

export async function createEmailAccount(
  prisma: PrismaClient,
  input: Omit<EmailAccountRow, 'id' | 'created' | 'updated'>,
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

export function listEmailAccounts(pool: Pool, tenantId: string, f: { status?: string; provider?: string }, cursor: Cursor | undefined, size: number) {
  return listRows<EmailAccountRow>(pool, 'email_accounts', COLUMNS, tenantId, [['status', f.status], ['provider', f.provider]], cursor, size);
}
