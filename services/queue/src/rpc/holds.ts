import type { queueV1 } from '@penguinmails/contracts';
import { Validator, type Handlers } from '@penguinmails/service-kit';
import type { ServerDeps } from '../deps';
import { setHold } from '../domain/holds';

type HoldHandlers = Pick<Handlers<queueV1.QueueServiceServer>, 'holdJobs' | 'releaseJobs'>;

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
      const { jobs } = await setHold(deps.pool, { ...target(req), held: true });
      return { heldJobs: BigInt(jobs) };
    },
    releaseJobs: async (req) => {
      const { jobs } = await setHold(deps.pool, { ...target(req), held: false });
      return { releasedJobs: BigInt(jobs) };
    },
  };
}
