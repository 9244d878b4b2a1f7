import { NotFoundError } from '@penguinmails/service-kit';
import { mapPrismaError, type PrismaClient } from '../db/prisma';

// Tenants are the root of every row's ownership. Never deleted (their rows are history and
// other tiers hold their ids): archived instead. All tenant FKs are ON DELETE RESTRICT.

export interface TenantRow {
  id: string;
  name: string;
  status: string;
  created: Date;
  updated: Date;
}

export async function createTenant(prisma: PrismaClient, input: { id?: string; name: string }): Promise<TenantRow> {
  try {
    return await prisma.tenant.create({ data: { ...(input.id ? { id: input.id } : {}), name: input.name } });
  } catch (err) {
    return mapPrismaError(err, 'tenant', input.id ?? input.name);
  }
}

export async function getTenant(prisma: PrismaClient, id: string): Promise<TenantRow> {
  const t = await prisma.tenant.findUnique({ where: { id } });
  if (!t) throw new NotFoundError('tenant', id);
  return t;
}

/** Any tenant id a request names must exist, or the request is NOT_FOUND. */
export async function assertTenant(prisma: PrismaClient, id: string): Promise<void> {
  await getTenant(prisma, id);
}

export async function updateTenant(prisma: PrismaClient, id: string, patch: { name?: string; status?: string }): Promise<TenantRow> {
  try {
    return await prisma.tenant.update({ where: { id }, data: patch });
  } catch (err) {
    return mapPrismaError(err, 'tenant', id);
  }
}
