import { PrismaPg } from '@prisma/adapter-pg';
import type { Pool } from 'pg';
import { PrismaClient } from '../generated/prisma/client';

export type { PrismaClient };
export type { Job as JobRow, JobLog as JobLogRow, Schedule as ScheduleRow } from '../generated/prisma/client';

/** Prisma 7 client over the service's pg pool (driver adapter: no native engine). */
export function createPrisma(pool: Pool): PrismaClient {
  return new PrismaClient({ adapter: new PrismaPg(pool) });
}
