import { PrismaPg } from '@prisma/adapter-pg';
import type { Pool } from 'pg';
import { AlreadyExistsError, NotFoundError } from '@penguinmails/service-kit';
import { PrismaClient } from '../generated/prisma/client';

export type { PrismaClient };

/** The client of an interactive transaction (`prisma.$transaction(async (tx) => …)`). */
export type PrismaTx = Parameters<Parameters<PrismaClient['$transaction']>[0]>[0];

/** Prisma 7 client over the service's pg pool (driver adapter: no native engine). */
export function createPrisma(pool: Pool): PrismaClient {
  return new PrismaClient({ adapter: new PrismaPg(pool) });
}

/**
 * Prisma's known request errors as domain errors naming the resource: P2002 unique violation →
 * ALREADY_EXISTS, P2025 no row → NOT_FOUND. The kit's classifyError maps the same codes, but
 * only generically ("row"); here the caller's resource type and name reach the error details.
 */
export function mapPrismaError(err: unknown, resource: string, name: string): never {
  const code = (err as { code?: string })?.code;
  if (code === 'P2002') throw new AlreadyExistsError(resource, name, undefined, { cause: err });
  if (code === 'P2025') throw new NotFoundError(resource, name);
  throw err;
}
