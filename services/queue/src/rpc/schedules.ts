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

/** The fields of a schedule a request may carry; CreateSchedule passes all of them, UpdateSchedule those it sets. */
interface ScheduleInput {
  name?: string;
  cron?: string;
  timeZone?: string;
  queue?: string;
  task?: string;
  payload?: { [key: string]: unknown };
  priority?: number;
  maxAttempts?: number;
  holdKey?: string;
}

/**
 * Checks each field that is present (CreateSchedule's rules: every field is there; UpdateSchedule:
 * only those it sets) and returns them as stored: an empty time zone is UTC, max_attempts 0 the
 * configured default. A cron without a time zone is checked in UTC (whether an expression parses
 * or ever fires does not depend on the zone), a time zone without a cron with one that fires
 * every minute.
 */
function fields(v: Validator, req: ScheduleInput, limits: ServerDeps['limits']): Partial<schedules.ScheduleFields> {
  const out: Partial<schedules.ScheduleFields> = {};
  if (req.name !== undefined) out.name = name(v, 'name', req.name);
  if (req.queue !== undefined) out.queue = name(v, 'queue', req.queue);
  if (req.task !== undefined) out.task = name(v, 'task', req.task);
  if (req.payload !== undefined) {
    jsonSize(v, 'payload', req.payload, limits.payloadMaxBytes);
    out.payload = req.payload;
  }
  if (req.priority !== undefined) out.priority = v.int('priority', req.priority, { min: -1000, max: 1000 });
  if (req.maxAttempts !== undefined) out.maxAttempts = req.maxAttempts === 0 ? limits.maxAttemptsDefault : v.int('max_attempts', req.maxAttempts, { min: 1, max: 100 });
  if (req.timeZone !== undefined) out.timeZone = v.string('time_zone', req.timeZone, { max: 100 }) || 'UTC';
  // Compared exactly, as EnqueueJobRequest.hold_key; empty = none.
  if (req.holdKey !== undefined) out.holdKey = v.string('hold_key', req.holdKey, { max: 200, trim: false }) || null;
  let cronOk = true;
  if (req.cron !== undefined) {
    const cron = v.string('cron', req.cron, { max: 200, required: true });
    out.cron = cron;
    const sized = cron.length > 0 && cron.length <= 200; // else REQUIRED / TOO_LONG, added above
    cronOk = sized && CRON_SHAPE.test(cron);
    if (sized && !cronOk)
      v.add('cron', 'MALFORMED', `cron must be 5 fields (minute hour day-of-month month day-of-week, e.g. "0 9 * * 1-5"), 6 with seconds first, or a nickname such as @daily; got "${cron.slice(0, 60)}"`);
  }
  const zoneOk = out.timeZone === undefined || out.timeZone.length <= 100;
  if ((out.cron !== undefined || out.timeZone !== undefined) && cronOk && zoneOk) {
    const problem = cronProblem(out.cron ?? '* * * * *', out.timeZone ?? 'UTC');
    if (problem) v.add(problem.field, 'MALFORMED', problem.message);
  }
  return out;
}

/** CreateSchedule / UpdateSchedule / DeleteSchedule / ListSchedules / PauseSchedule / ResumeSchedule: validate (INVALID_ARGUMENT naming fields, nothing written) → domain → proto. */
export function scheduleHandlers(
  deps: ServerDeps,
): Pick<Handlers<queueV1.QueueServiceServer>, 'createSchedule' | 'updateSchedule' | 'deleteSchedule' | 'listSchedules' | 'pauseSchedule' | 'resumeSchedule'> {
  const { limits } = deps;
  return {
    createSchedule: async (req) => {
      const v = new Validator();
      const tenantId = v.uuid('tenant_id', req.tenantId);
      const f = fields(v, { ...req, payload: req.payload ?? {} }, limits);
      v.done();
      const row = await schedules.createSchedule(deps, { tenantId, ...(f as Required<typeof f>) });
      return { schedule: toSchedule(row) };
    },

    updateSchedule: async (req) => {
      const v = new Validator();
      const tenantId = v.uuid('tenant_id', req.tenantId);
      const scheduleId = v.uuid('schedule_id', req.scheduleId);
      const changes = fields(v, req, limits);
      v.done();
      return { schedule: toSchedule(await schedules.updateSchedule(deps, { tenantId, scheduleId, changes })) };
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
