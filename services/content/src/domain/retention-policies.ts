import { withTransaction, type EventNames } from '@penguinmails/service-kit';
import type { Pool } from 'pg';
import type { PrismaClient } from '../db/prisma';
import { upsertRetentionPolicy } from '../db/upsert-retention-policy';
import { emitRetentionPolicyChanged } from './events';
import type { RetentionDefaults } from './retention';

/** A tenant's policy: what applies, the defaults, and the tenant's own values (undefined: default). */
export interface PolicyView {
  effective: { maxAgeDays: number; maxTotalBytes: bigint };
  defaults: { maxAgeDays: number; maxTotalBytes: bigint };
  tenantMaxAgeDays?: number;
  tenantMaxTotalBytes?: bigint;
}

function view(defaults: RetentionDefaults, own: { maxAgeDays: number | null; maxTotalBytes: bigint | null } | null): PolicyView {
  const d = { maxAgeDays: defaults.maxAgeDays, maxTotalBytes: BigInt(defaults.maxTotalBytes) };
  return {
    effective: { maxAgeDays: own?.maxAgeDays ?? d.maxAgeDays, maxTotalBytes: own?.maxTotalBytes ?? d.maxTotalBytes },
    defaults: d,
    tenantMaxAgeDays: own?.maxAgeDays ?? undefined,
    tenantMaxTotalBytes: own?.maxTotalBytes ?? undefined,
  };
}

/** The tenant's policy (plain CRUD: Prisma). No row: the defaults. */
export async function getRetentionPolicy(deps: { prisma: PrismaClient; defaults: RetentionDefaults }, tenantId: string): Promise<PolicyView> {
  const own = await deps.prisma.retentionPolicy.findUnique({ where: { tenantId } });
  return view(deps.defaults, own);
}

/**
 * Sets the tenant's policy (absolute values: a repeat changes nothing but `updated`; an absent
 * value falls back to the default) and emits RetentionPolicyChanged with the effective values,
 * in one transaction. The sweeper applies it on its next run.
 */
export async function setRetentionPolicy(
  deps: { pool: Pool; names: EventNames; defaults: RetentionDefaults },
  input: { tenantId: string; maxAgeDays: number | null; maxTotalBytes: bigint | null },
): Promise<PolicyView> {
  return withTransaction(deps.pool, async (client) => {
    await upsertRetentionPolicy(client, input);
    const v = view(deps.defaults, input);
    await emitRetentionPolicyChanged(client, deps.names, input.tenantId, {
      maxAgeDays: v.effective.maxAgeDays,
      maxTotalBytes: v.effective.maxTotalBytes,
      changed: new Date(),
    });
    return v;
  });
}
