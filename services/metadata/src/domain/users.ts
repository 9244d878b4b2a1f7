import { NotFoundError, listPage, type KeysetCursor } from '@penguinmails/service-kit';
import type { Pool } from 'pg';
import { mapPrismaError, type PrismaClient } from '../db/prisma';
import { USER_COLUMNS, type UserRow } from '../db/rows';

export type { UserRow };

// Users: email unique per tenant (users_tenant_id_email_key → ALREADY_EXISTS). Nothing in
// this tier references a user, so DeleteUser is a hard delete.

export async function createUser(
  prisma: PrismaClient,
  input: { tenantId: string; email: string; name: string | null; role: string; status: string },
): Promise<UserRow> {
  try {
    return await prisma.user.create({ data: input });
  } catch (err) {
    return mapPrismaError(err, 'user', input.email);
  }
}

export async function getUser(prisma: PrismaClient, tenantId: string, id: string): Promise<UserRow> {
  const u = await prisma.user.findFirst({ where: { id, tenantId } });
  if (!u) throw new NotFoundError('user', id);
  return u;
}

export async function updateUser(
  prisma: PrismaClient,
  tenantId: string,
  id: string,
  patch: Partial<Pick<UserRow, 'email' | 'name' | 'role' | 'status'>>,
): Promise<UserRow> {
  try {
    return await prisma.user.update({ where: { id, tenantId }, data: patch });
  } catch (err) {
    return mapPrismaError(err, 'user', (err as { code?: string })?.code === 'P2002' ? String(patch.email) : id);
  }
}

export async function deleteUser(prisma: PrismaClient, tenantId: string, id: string): Promise<void> {
  const { count } = await prisma.user.deleteMany({ where: { id, tenantId } });
  if (count === 0) throw new NotFoundError('user', id);
}

export function listUsers(pool: Pool, tenantId: string, f: { status?: string; role?: string }, cursor: KeysetCursor | undefined, size: number) {
  return listPage<UserRow>(pool, { table: 'users', columns: USER_COLUMNS, tenantId, filters: [['status', f.status], ['role', f.role]], cursor, size });
}
