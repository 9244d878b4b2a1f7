import { AlreadyExistsError, NotFoundError, PeriodicTask, defaultMetrics, listPage, withTransaction, type KeysetCursor, type Logger, type Metrics } from '@penguinmails/service-kit';
import { SCHEDULE_BYTES, pageBudget } from './reply-size';
import type { Pool, PoolClient } from 'pg';
import { deleteSchedule as deleteScheduleSql } from '../db/delete-schedule';
import { fireSchedules } from '../db/fire-schedules';
import { insertSchedule, type NewSchedule } from '../db/insert-schedule';
import { lockDueSchedules } from '../db/lock-due-schedules';
import { lockSchedule, pauseSchedule as pauseScheduleSql, resumeSchedule as resumeScheduleSql } from '../db/pause-schedule';
import type { ScheduleRow } from '../db/prisma';
import { scheduleColumns } from '../db/schedule-columns';
import { ensureHoldRow } from '../db/holds';
import { updateSchedule as updateScheduleSql, type ScheduleFields } from '../db/update-schedule';
import type { ServerDeps } from '../deps';
import { nextFire } from './cron';

// The rules of the `schedules` table and the scheduler that fires them.

export type { ScheduleRow, ScheduleFields };
type Deps = Pick<ServerDeps, 'pool' | 'grpc'>;

/** Where a schedule whose expression stopped firing (a one-off date in the past) is parked. */
const PARKED = new Date('9999-12-31T00:00:00Z');

const nameTaken = (name: string) =>
  new AlreadyExistsError(
    'schedule',
    name,
    `a schedule named "${name}" exists already; delete it first (DeleteSchedule) or choose another name — a retry after a lost reply finds it in ListSchedules`,
  );

/** Creates a schedule (input checked by the rpc layer, cron included); its first fire is the next one from now. */
export async function createSchedule(deps: Deps, s: Omit<NewSchedule, 'nextFireAt'>): Promise<ScheduleRow> {
  const nextFireAt = nextFire(s.cron, s.timeZone, new Date());
  // The rpc layer refused expressions that never fire; this only guards the invariant.
  if (!nextFireAt) throw new Error(`cron ${s.cron} has no next fire`);
  // With its hold key's job_holds row, in one transaction: a name already taken leaves no row
  // behind (the fuzz suite caught exactly that: ALREADY_EXISTS with the store changed).
  return withTransaction(deps.pool, async (client) => {
    if (s.holdKey) await ensureHoldRow(client, { tenantId: s.tenantId, holdKey: s.holdKey });
    const row = await insertSchedule(client, { ...s, nextFireAt });
    if (row) return row;
    throw nameTaken(s.name);
  });
}

/**
 * Changes the fields given (checked by the rpc layer) of a tenant's schedule, locked so that a
 * fire in progress commits first. A new cron or time zone moves the next fire to the new
 * expression's first fire after the database's now, unless the schedule is paused (ResumeSchedule
 * computes it then). Nothing given, or only values it has already (the payload excepted: it is
 * written when given), returns the schedule as it is, nothing written.
 */
export async function updateSchedule(deps: Deps, args: { tenantId: string; scheduleId: string; changes: Partial<ScheduleFields> }): Promise<ScheduleRow> {
  const given = Object.fromEntries(Object.entries(args.changes).filter(([, value]) => value !== undefined)) as Partial<ScheduleFields>;
  try {
    return await withTransaction(deps.pool, async (client) => {
      const { current, now } = await lockedSchedule(client, args);
      const changes = Object.fromEntries(
        Object.entries(given).filter(([key, value]) => key === 'payload' || current[key as keyof ScheduleRow] !== value),
      ) as Partial<ScheduleFields>;
      if (Object.keys(changes).length === 0) return current;
      if (changes.holdKey) await ensureHoldRow(client, { tenantId: args.tenantId, holdKey: changes.holdKey });
      const timing = changes.cron !== undefined || changes.timeZone !== undefined;
      const nextFireAt = timing && !current.pausedAt ? (nextFire(changes.cron ?? current.cron, changes.timeZone ?? current.timeZone, now) ?? PARKED) : undefined;
      return updateScheduleSql(client, { scheduleId: args.scheduleId, changes, nextFireAt });
    });
  } catch (e) {
    // (tenant_id, name) is unique: another schedule of the tenant has the new name.
    if ((e as { code?: string }).code === '23505' && given.name !== undefined) throw nameTaken(given.name);
    throw e;
  }
}

export async function deleteSchedule(deps: Deps, args: { tenantId: string; scheduleId: string }): Promise<ScheduleRow> {
  const row = await deleteScheduleSql(deps.pool, args);
  if (!row) throw new NotFoundError('schedule', args.scheduleId);
  return row;
}

/** The tenant's schedule locked for this transaction, with the database's now; NOT_FOUND when it has none with that id. */
async function lockedSchedule(client: PoolClient, args: { tenantId: string; scheduleId: string }): Promise<{ current: ScheduleRow; now: Date }> {
  const row = await lockSchedule(client, args);
  if (!row) throw new NotFoundError('schedule', args.scheduleId);
  const { now, ...current } = row;
  return { current, now };
}

/**
 * Pauses a schedule: it stops firing until ResumeSchedule (the scheduler's index holds only the
 * schedules that fire). A paused one is returned as it is, nothing written.
 */
export async function pauseSchedule(deps: Deps, args: { tenantId: string; scheduleId: string }): Promise<ScheduleRow> {
  return withTransaction(deps.pool, async (client) => {
    const { current } = await lockedSchedule(client, args);
    return current.pausedAt ? current : pauseScheduleSql(client, args.scheduleId);
  });
}

/**
 * Resumes a paused schedule from the first fire after the database's now: the fires that fell
 * in the pause are not caught up (unlike downtime, where one is; a pause is asked for). A schedule
 * that is not paused is returned as it is, nothing written.
 */
export async function resumeSchedule(deps: Deps, args: { tenantId: string; scheduleId: string }): Promise<ScheduleRow> {
  return withTransaction(deps.pool, async (client) => {
    const { current, now } = await lockedSchedule(client, args);
    if (!current.pausedAt) return current;
    const nextFireAt = nextFire(current.cron, current.timeZone, now) ?? PARKED;
    return resumeScheduleSql(client, { scheduleId: args.scheduleId, nextFireAt });
  });
}

/** Oldest first, keyset-paged on (created, id) by the kit's listPage. */
export async function listSchedules(deps: Deps, args: { tenantId: string; cursor?: KeysetCursor; size: number }) {
  return listPage<ScheduleRow>(deps.pool, {
    table: 'schedules',
    columns: scheduleColumns(),
    tenantId: args.tenantId,
    cursor: args.cursor,
    size: args.size,
    order: 'asc',
    budget: pageBudget(deps, SCHEDULE_BYTES),
  });
}

/** The idempotency key of one fire of a schedule: what makes a fire one job across replicas. */
export const fireKey = (scheduleId: string, fireAt: Date): string => `schedule:${scheduleId}:${fireAt.toISOString()}`;

/**
 * Fires due schedules: every `intervalMs`, in batches of `batchSize`, one transaction per batch
 * that locks the due schedules (`skip locked`), enqueues one job per schedule and moves each to
 * its next fire. Safe with any number of replicas running it: a schedule is locked by one of
 * them at a time, re-checked on its newest version, and its fire's job carries the idempotency
 * key `schedule:<id>:<fire time>`, so a fire is enqueued exactly once.
 *
 * Missed fires (the service was down through several): at most ONE is caught up — the earliest
 * missed (the stored next_fire_at) is enqueued, and the schedule moves to the first fire after
 * the database's now. A schedule that fired every minute through an hour of downtime enqueues
 * one job when the service comes back, not sixty.
 *
 * A fire lands within `intervalMs` (plus a busy database's delay) after its time; the job's
 * run_at is when it was enqueued.
 */
export class Scheduler extends PeriodicTask {
  private readonly fired;

  constructor(private readonly opts: { pool: Pool; logger?: Logger; intervalMs: number; batchSize: number; metrics?: Metrics }) {
    super({ logger: opts.logger, intervalMs: opts.intervalMs, doneMessage: 'scheduler: schedule fires enqueued', failedMessage: 'scheduler run failed; will retry' });
    this.fired = (opts.metrics ?? defaultMetrics()).counter('pm_queue_schedule_fires_total', 'Jobs enqueued by schedule fires (one per fire across replicas).');
  }

  /** Fires every due schedule, batch by batch; resolves with how many jobs were enqueued. */
  async run(): Promise<number> {
    let total = 0;
    for (;;) {
      const { locked, enqueued } = await this.fireOnce();
      total += enqueued;
      if (locked < this.opts.batchSize || this.stopped) return total;
    }
  }

  /** One batch in one transaction. */
  async fireOnce(): Promise<{ locked: number; enqueued: number }> {
    return withTransaction(this.opts.pool, async (client) => {
      const due = await lockDueSchedules(client, this.opts.batchSize);
      if (due.length === 0) return { locked: 0, enqueued: 0 };
      const fires = due.map((s) => {
        // After the database's now; a schedule whose expression stopped firing (a one-off date in
        // the past) is parked far away rather than fired again.
        const next = nextFire(s.cron, s.timeZone, s.now) ?? PARKED;
        return { scheduleId: s.id, fireAt: s.nextFireAt, nextFireAt: next, key: fireKey(s.id, s.nextFireAt) };
      });
      const enqueued = await fireSchedules(client, fires);
      this.fired.inc(enqueued);
      return { locked: due.length, enqueued };
    });
  }
}
