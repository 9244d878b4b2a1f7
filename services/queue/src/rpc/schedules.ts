import type { queueV1 } from '@penguinmails/contracts';
import { Validator, decodeCursor, encodeCursor, type Handlers } from '@penguinmails/service-kit';
import type { ServerDeps } from '../deps';
import { cronProblem } from '../domain/cron';
import * as schedules from '../domain/schedules';
import { toSchedule } from './mappers';
import { CRON_SHAPE, jsonSize, name } from './validate';

/** The schedule a Delete/Pause/ResumeSchedule names: both ids checked (INVALID_ARGUMENT naming them), nothing read yet. */
function target(req: { tenantId: string; scheduleId: string }): { tenantId: string; scheduleId: string } {
  const v = new Validator();
  const tenantId = v.uuid('tenant_id', req.tenantId);
  const scheduleId = v.uuid('schedule_id', req.scheduleId);
  v.done();
  return { tenantId, scheduleId };
}

/** CreateSchedule / DeleteSchedule / ListSchedules / PauseSchedule / ResumeSchedule: validate (INVALID_ARGUMENT naming fields, nothing written) → domain → proto. */
export function scheduleHandlers(deps: ServerDeps): Pick<Handlers<queueV1.QueueServiceServer>, 'createSchedule' | 'deleteSchedule' | 'listSchedules' | 'pauseSchedule' | 'resumeSchedule'> {
  const { limits } = deps;
  return {
    createSchedule: async (req) => {
      const v = new Validator();
      const tenantId = v.uuid('tenant_id', req.tenantId);
      const scheduleName = name(v, 'name', req.name);
      const cron = v.string('cron', req.cron, { max: 200, required: true });
      const timeZone = v.string('time_zone', req.timeZone, { max: 100 }) || 'UTC';
      const queue = name(v, 'queue', req.queue);
      const task = name(v, 'task', req.task);
      jsonSize(v, 'payload', req.payload, limits.payloadMaxBytes);
      const priority = v.int('priority', req.priority, { min: -1000, max: 1000 });
      const maxAttempts = req.maxAttempts === 0 ? limits.maxAttemptsDefault : v.int('max_attempts', req.maxAttempts, { min: 1, max: 100 });
      if (cron && cron.length <= 200 && !CRON_SHAPE.test(cron)) {
        v.add('cron', 'MALFORMED', `cron must be 5 fields (minute hour day-of-month month day-of-week, e.g. "0 9 * * 1-5"), 6 with seconds first, or a nickname such as @daily; got "${cron.slice(0, 60)}"`);
      } else if (cron && cron.length <= 200 && timeZone.length <= 100) {
        const problem = cronProblem(cron, timeZone);
        if (problem) v.add(problem.field, 'MALFORMED', problem.message);
      }
      v.done();
      const row = await schedules.createSchedule(deps, { tenantId, name: scheduleName, cron, timeZone, queue, task, payload: req.payload ?? {}, priority, maxAttempts });
      return { schedule: toSchedule(row) };
    },

    deleteSchedule: async (req) => ({ schedule: toSchedule(await schedules.deleteSchedule(deps, target(req))) }),

    pauseSchedule: async (req) => ({ schedule: toSchedule(await schedules.pauseSchedule(deps, target(req))) }),

    resumeSchedule: async (req) => ({ schedule: toSchedule(await schedules.resumeSchedule(deps, target(req))) }),

    listSchedules: async (req) => {
      const v = new Validator();
      const tenantId = v.uuid('tenant_id', req.tenantId);
      const pageSize = v.pageSize('page.page_size', req.page?.pageSize, { default: limits.pageSizeDefault, max: limits.pageSizeMax });
      v.done();
      const binding = JSON.stringify(['schedules', tenantId]);
      const cursor = decodeCursor(deps.pageTokens, req.page?.pageToken, binding);
      const page = await schedules.listSchedules(deps, { tenantId, cursor, size: pageSize });
      return { schedules: page.rows.map(toSchedule), page: { nextPageToken: encodeCursor(deps.pageTokens, page.next, binding) } };
    },
  };
}
