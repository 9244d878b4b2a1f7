import type { queueV1 } from '@penguinmails/contracts';
import { Validator, decodeKeyCursor, type Handlers } from '@penguinmails/service-kit';
import type { ServerDeps } from '../deps';
import { listHolds, setHold } from '../domain/holds';

type HoldHandlers = Pick<Handlers<queueV1.QueueServiceServer>, 'holdJobs' | 'releaseJobs' | 'listHolds'>;

/** The key a HoldJobs / ReleaseJobs names: both fields checked (INVALID_ARGUMENT naming them), nothing read yet. */
function target(req: { tenantId: string; holdKey: string }): { tenantId: string; holdKey: string } {
  const v = new Validator();
  const tenantId = v.uuid('tenant_id', req.tenantId);
  // Compared exactly, as EnqueueJobRequest.hold_key: no trimming.
  const holdKey = v.string('hold_key', req.holdKey, { max: 200, required: true, trim: false });
  v.done();
  return { tenantId, holdKey };
}

export function holdHandlers(deps: ServerDeps): HoldHandlers {
  return {
    holdJobs: async (req) => {
      const cancel = req.cancelWaiting === true;
      const { jobs } = await setHold(deps.pool, { ...target(req), held: true, cancel });
      return cancel ? { heldJobs: 0n, cancelledJobs: BigInt(jobs) } : { heldJobs: BigInt(jobs), cancelledJobs: 0n };
    },
    releaseJobs: async (req) => {
      const { jobs } = await setHold(deps.pool, { ...target(req), held: false });
      return { releasedJobs: BigInt(jobs) };
    },
    listHolds: async (req) => {
      const v = new Validator();
      const tenantId = v.uuid('tenant_id', req.tenantId);
      const size = v.pageSize('page.page_size', req.page?.pageSize, { default: deps.limits.pageSizeDefault, max: deps.limits.pageSizeMax });
      v.done();
      // The cursor is the last key of the page (keys are unique per tenant), in a signed token
      // bound to the tenant, as the other lists' tokens are.
      const binding = JSON.stringify(['holds', tenantId]);
      const cursor = decodeKeyCursor(deps.pageTokens, req.page?.pageToken, binding, ['k']);
      const page = await listHolds(deps.pool, { tenantId, afterKey: cursor?.k, size });
      return {
        holds: page.rows.map((h) => ({ holdKey: h.holdKey, heldSince: h.heldSince, heldJobs: BigInt(h.heldJobs) })),
        page: { nextPageToken: page.next === undefined ? '' : deps.pageTokens.encode({ k: page.next }, binding) },
      };
    },
  };
}
