import type { contentV1 } from '@penguinmails/contracts';
import { Validator } from '@penguinmails/service-kit';
import type { ServerDeps } from '../deps';
import * as policies from '../domain/retention-policies';
import * as usage from '../domain/usage';

// Thin handlers of usage and retention policy: validate, call the domain, map.

const MiB = 1024 * 1024;
/** A hundred years: beyond it an age limit means nothing (and days × 86400 s stays small). */
const MAX_AGE_DAYS = 36_500;
const INT64_MAX = 9_223_372_036_854_775_807n;

export function getUsage(deps: ServerDeps) {
  return async (req: contentV1.GetUsageRequest): Promise<contentV1.GetUsageResponse> => {
    const v = new Validator();
    const tenantId = v.uuid('tenant_id', req.tenantId);
    v.done();
    const u = await usage.getUsage(deps.pool, tenantId);
    return {
      bodies: u.bodies,
      transactionalBodies: u.transactionalBodies,
      attachments: u.attachments,
      attachmentBlobs: u.attachmentBlobs,
      transactionalEmails: u.transactionalEmails,
      totalLogicalBytes: u.totalLogicalBytes,
      totalStoredBytes: u.totalStoredBytes,
      expiring: u.expiring,
    };
  };
}

function toPolicy(p: { maxAgeDays: number; maxTotalBytes: bigint }): contentV1.RetentionPolicy {
  return { maxAgeDays: p.maxAgeDays, maxTotalBytes: p.maxTotalBytes };
}

export function setRetentionPolicy(deps: ServerDeps) {
  return async (req: contentV1.SetRetentionPolicyRequest): Promise<contentV1.SetRetentionPolicyResponse> => {
    const v = new Validator();
    const tenantId = v.uuid('tenant_id', req.tenantId);
    let maxAgeDays: number | null = null;
    if (req.maxAgeDays !== undefined) maxAgeDays = v.int('max_age_days', req.maxAgeDays, { min: 0, max: MAX_AGE_DAYS });
    let maxTotalBytes: bigint | null = null;
    if (req.maxTotalBytes !== undefined) {
      const b = BigInt(req.maxTotalBytes);
      if (b < 0n || b > INT64_MAX)
        v.add('max_total_bytes', 'OUT_OF_RANGE', `max_total_bytes must be 0 (no size limit) or at least ${MiB} (1 MiB), got ${b}`);
      else if (b > 0n && b < BigInt(MiB))
        v.add('max_total_bytes', 'OUT_OF_RANGE', `max_total_bytes must be 0 (no size limit) or at least ${MiB} (1 MiB), got ${b}: a smaller budget would delete nearly every object`);
      else maxTotalBytes = b;
    }
    v.done();
    const p = await policies.setRetentionPolicy({ pool: deps.pool, names: deps.names, defaults: deps.limits.retention }, { tenantId, maxAgeDays, maxTotalBytes });
    return { effective: toPolicy(p.effective) };
  };
}

export function getRetentionPolicy(deps: ServerDeps) {
  return async (req: contentV1.GetRetentionPolicyRequest): Promise<contentV1.GetRetentionPolicyResponse> => {
    const v = new Validator();
    const tenantId = v.uuid('tenant_id', req.tenantId);
    v.done();
    const p = await policies.getRetentionPolicy({ prisma: deps.prisma, defaults: deps.limits.retention }, tenantId);
    return {
      effective: toPolicy(p.effective),
      defaults: toPolicy(p.defaults),
      tenantMaxAgeDays: p.tenantMaxAgeDays,
      tenantMaxTotalBytes: p.tenantMaxTotalBytes,
    };
  };
}
