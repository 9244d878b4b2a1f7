import type { queueV1 } from '@penguinmails/contracts';
import { Validator, decodeKeyCursor, type Handlers } from '@penguinmails/service-kit';
import type { ServerDeps } from '../deps';
import { listGroupLimits, setGroupLimit } from '../domain/group-limits';
import { name, tenantOrEvery } from './validate';

type GroupLimitHandlers = Pick<Handlers<queueV1.QueueServiceServer>, 'setGroupLimit' | 'listGroupLimits'>;

export function groupLimitHandlers(deps: ServerDeps): GroupLimitHandlers {
  return {
    setGroupLimit: async (req, ctx) => {
      const v = new Validator();
      // No tenant (service scope): the platform's setting, a queue's default for every tenant.
      const tenantId = tenantOrEvery(v, req.tenantId, ctx);
      const queue = name(v, 'queue', req.queue);
      // Compared exactly, as EnqueueJobRequest.group_key (no trimming); '' is the queue's default.
      const groupKey = v.string('group_key', req.groupKey, { max: 200, trim: false });
      if (tenantId === undefined && req.groupKey !== '')
        v.add(
          'group_key',
          'NOT_ALLOWED',
          "group_key must be empty when tenant_id is: the platform's setting is a queue's default for every tenant's groups, and a group key names one tenant's group (set it with that tenant_id)",
        );
      const maxRunning = v.int('limit', req.limit, { min: 0, max: 1000 });
      v.done();
      const row = await setGroupLimit(deps.pool, { tenantId, queue, groupKey, maxRunning });
      return { groupLimit: { queue: row.queue, groupKey: row.groupKey, limit: row.maxRunning, updated: row.updated } };
    },
    listGroupLimits: async (req, ctx) => {
      const v = new Validator();
      // No tenant (service scope): the platform's settings.
      const tenantId = tenantOrEvery(v, req.tenantId, ctx);
      const queue = name(v, 'queue', req.queue, { required: false }) || undefined;
      const size = v.pageSize('page.page_size', req.page?.pageSize, { default: deps.limits.pageSizeDefault, max: deps.limits.pageSizeMax });
      v.done();
      // The cursor is the last (queue, group key) of the page, in a signed token bound to the
      // tenant and the queue filter, as the other lists' tokens are.
      const binding = JSON.stringify(['group_limits', tenantId ?? '*', queue ?? null]);
      const cursor = decodeKeyCursor(deps.pageTokens, req.page?.pageToken, binding, ['q', 'g']);
      const page = await listGroupLimits(deps.pool, { tenantId, queue, after: cursor && { queue: cursor.q, groupKey: cursor.g }, size });
      return {
        groupLimits: page.rows.map((r) => ({ queue: r.queue, groupKey: r.groupKey, limit: r.maxRunning, updated: r.updated })),
        page: { nextPageToken: page.next === undefined ? '' : deps.pageTokens.encode({ q: page.next.queue, g: page.next.groupKey }, binding) },
      };
    },
  };
}
