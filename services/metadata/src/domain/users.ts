import { metadataV1 } from '@penguinmails/contracts';
import { NotFoundError } from '@penguinmails/service-kit';
import type { Pool } from 'pg';
import { listRows } from '../db/list';
import type { Cursor } from '../db/keyset';
import { mapPrismaError, type PrismaClient } from '../db/prisma';
import { userRole, userStatus } from './enums';

// Users: email unique per tenant (users_tenant_id_email_key → ALREADY_EXISTS). Nothing in
// this tier references a user, so DeleteUser is a hard delete.

export interface UserRow {
  id: string;
  tenantId: string;
  email: string;
  name: string | null;
  role: string;
  status: string;
  created: Date;
  updated: Date;
}

const COLUMNS = `id, tenant_id as "tenantId", email, name, role, status, created, updated`;

export function userToProto(r: UserRow): metadataV1.User {
  return {
    id: r.id,
    tenantId: r.tenantId,
    email: r.email,
    name: r.name ?? '',
    role: userRole.fromDb(r.role),
    status: userStatus.fromDb(r.status),
    created: r.created,
    updated: r.updated,
  };
}

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

export function listUsers(pool: Pool, tenantId: string, f: { status?: string; role?: string }, cursor: Cursor | undefined, size: number) {
  return listRows<UserRow>(pool, 'users', COLUMNS, tenantId, [['status', f.status], ['role', f.role]], cursor, size);
}
