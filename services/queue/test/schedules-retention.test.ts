import { status as Status } from '@grpc/grpc-js';
import { queueV1 } from '@penguinmails/contracts';
import { Metrics, call, createPgPool, withTransaction } from '@penguinmails/service-kit';
import { deleteFinishedJobs } from '../src/db/delete-finished-jobs';
import { fireSchedules } from '../src/db/fire-schedules';
import { lockDueSchedules } from '../src/db/lock-due-schedules';
import { JobRetention } from '../src/domain/retention';
import { Scheduler, fireKey } from '../src/domain/schedules';
import { failure, NO_KEYS, type Queue, sleep, startQueue, tenant } from './harness';

// Recurring schedules (RPCs and the scheduler, two instances on one database) and retention of
// finished jobs, against the real PostgreSQL.

let q: Queue;
beforeAll(async () => {
  q = await startQueue();
});
afterAll(async () => {
  await q?.stop();
});

const schedule = (tenantId: string, req: Partial<queueV1.CreateScheduleRequest> = {}) =>
  call(q.client, 'createSchedule', {
    tenantId,
    name: 'nightly-digest',
    cron: '0 3 * * *',
    timeZone: 'Europe/Berlin',
    queue: 'digest',
    task: 'digest.send',
    payload: { kind: 'daily' },
    priority: 0,
    maxAttempts: 0,
    holdKey: '',
    ...req,
  }).then((r) => r.schedule!);

describe('CreateSchedule / ListSchedules / DeleteSchedule', () => {
  it('creates, lists and deletes a tenant schedule; other tenants see and delete nothing', async () => {
    const [t, other] = [tenant(), tenant()];
    const before = Date.now();
    const s = await schedule(t);
    expect(s).toMatchObject({ tenantId: t, name: 'nightly-digest', cron: '0 3 * * *', timeZone: 'Europe/Berlin', queue: 'digest', maxAttempts: 5, payload: { kind: 'daily' } });
    expect(s.lastFireAt).toBeUndefined();
    // 03:00 in Berlin is 01:00 or 02:00 UTC, within the next day
    expect(s.nextFireAt!.getTime()).toBeGreaterThan(before);
    expect(s.nextFireAt!.getTime()).toBeLessThanOrEqual(before + 86_400_000);
    expect([1, 2]).toContain(s.nextFireAt!.getUTCHours());

    const dup = await failure(schedule(t, { cron: '* * * * *' }));
    expect(dup.code).toBe(Status.ALREADY_EXISTS);
    const s2 = await schedule(t, { name: 'every-minute', cron: '* * * * *', timeZone: '' });
    expect(s2.timeZone).toBe('UTC');

    const list = await call(q.client, 'listSchedules', { tenantId: t, page: { pageSize: 1, pageToken: '' } });
    expect(list.schedules.map((x) => x.id)).toEqual([s.id]);
    const next = await call(q.client, 'listSchedules', { tenantId: t, page: { pageSize: 1, pageToken: list.page!.nextPageToken } });
    expect(next.schedules.map((x) => x.id)).toEqual([s2.id]);
    expect((await call(q.client, 'listSchedules', { tenantId: other, page: undefined })).schedules).toEqual([]);

    const snap = await q.snapshot();
    expect((await failure(call(q.client, 'deleteSchedule', { tenantId: other, scheduleId: s.id }))).code).toBe(Status.NOT_FOUND);
    expect(await q.snapshot()).toEqual(snap);
    expect((await call(q.client, 'deleteSchedule', { tenantId: t, scheduleId: s.id })).schedule!.id).toBe(s.id);
    expect((await failure(call(q.client, 'deleteSchedule', { tenantId: t, scheduleId: s.id }))).code).toBe(Status.NOT_FOUND);
    expect((await call(q.client, 'listSchedules', { tenantId: t, page: undefined })).schedules.map((x) => x.id)).toEqual([s2.id]);
  });

  it('refuses malformed or unknown cron expressions and time zones naming the field, and writes nothing', async () => {
    const t = tenant();
    const before = await q.snapshot();
    const cases: [Partial<queueV1.CreateScheduleRequest>, string][] = [
      [{ cron: 'bogus' }, 'cron:MALFORMED'],
      [{ cron: '61 * * * *' }, 'cron:MALFORMED'],
      [{ cron: '* * * *' }, 'cron:MALFORMED'],
      [{ cron: '0 0 30 2 *' }, 'cron:MALFORMED'], // never fires
      [{ cron: '2030-01-01T00:00:00' }, 'cron:MALFORMED'], // a date is not a schedule
      [{ cron: '* * * * * * 2030' }, 'cron:MALFORMED'], // no year field
      [{ cron: '' }, 'cron:REQUIRED'],
      [{ timeZone: 'Mars/Olympus' }, 'time_zone:MALFORMED'],
      [{ name: 'has space', queue: '', maxAttempts: 101 }, 'max_attempts:OUT_OF_RANGE name:MALFORMED queue:REQUIRED'],
    ];
    for (const [req, expected] of cases) {
      const st = await failure(schedule(t, req));
      expect(st.code).toBe(Status.INVALID_ARGUMENT);
      expect(st.fieldViolations.map((v) => `${v.field}:${v.reason}`).sort().join(' ')).toBe(expected);
      if (expected.startsWith('time_zone')) expect(st.fieldViolations[0].description).toContain('IANA');
    }
    expect(await q.snapshot()).toEqual(before);
  });
});

describe('the scheduler', () => {
  it('two schedulers on one database enqueue each fire of a per-second schedule exactly once', async () => {
    const t = tenant();
    const s = await schedule(t, { name: 'every-second', cron: '* * * * * *', timeZone: 'UTC', queue: 'tick', task: 'tick' });
    // The schedulers fire every due schedule of the database, and the first test left one that
    // fires every minute: when a minute turned during the race, its fire was counted in
    // `enqueued` below (one too many against this schedule's jobs: a flake seen in CI). Park the
    // others for this test (this file's database; its tests run one after another).
    await q.pool.query(`update schedules set next_fire_at = next_fire_at + interval '1 day' where id <> $1`, [s.id]);
    // Two instances, each with its own pool (as two replicas would have), racing every 50 ms.
    const pools = [createPgPool(q.db.url, { max: 3 }), createPgPool(q.db.url, { max: 3 })];
    const schedulers = pools.map((pool) => new Scheduler({ pool, intervalMs: 0, batchSize: 10, metrics: new Metrics() }));
    let stop = false;
    const locked = [0, 0];
    const enqueued = [0, 0];
    const loops = schedulers.map(async (sch, i) => {
      while (!stop) {
        const r = await sch.fireOnce();
        locked[i] += r.locked;
        enqueued[i] += r.enqueued;
        await sleep(50);
      }
    });
    await sleep(4200);
    stop = true;
    await Promise.all(loops);
    await Promise.all(pools.map((p) => p.end()));

    const { rows } = await q.pool.query<{ key: string; n: number }>(
      `select idempotency_key as key, count(*)::int as n from jobs where tenant_id = $1 and queue = 'tick' group by 1 order by 1`,
      [t],
    );
    expect(rows.every((r) => r.n === 1)).toBe(true);
    const fires = rows.map((r) => new Date(r.key.slice(`schedule:${s.id}:`.length)).getTime());
    expect(fires.length).toBeGreaterThanOrEqual(3);
    // every second from the first fire to the last, none missing, none twice
    for (let i = 1; i < fires.length; i++) expect(fires[i] - fires[i - 1]).toBe(1000);
    expect(fires[0]).toBe(s.nextFireAt!.getTime());
    // each fire was enqueued by exactly one of the two. (Once, at load ~28, the two locked the
    // schedule 6 times for 5 fires: the sixth lock's insert met the fire's idempotency key and
    // enqueued nothing — that key is the guarantee; the lock alone is not.)
    expect(enqueued[0] + enqueued[1]).toBe(fires.length);
    expect(locked[0] + locked[1]).toBeGreaterThanOrEqual(fires.length);
    const after = (await call(q.client, 'listSchedules', { tenantId: t, page: undefined })).schedules[0];
    expect(after.lastFireAt!.getTime()).toBe(fires[fires.length - 1]);
    expect(after.nextFireAt!.getTime()).toBe(fires[fires.length - 1] + 1000);
    await call(q.client, 'deleteSchedule', { tenantId: t, scheduleId: s.id });
  }, 30_000);

  it('catches up at most one missed fire after downtime', async () => {
    const t = tenant();
    const s = await schedule(t, { name: 'minutely', cron: '* * * * *', queue: 'late', task: 'late' });
    // the service was down for an hour: sixty fires missed
    await q.pool.query(`update schedules set next_fire_at = date_trunc('minute', now()) - interval '1 hour' where id = $1`, [s.id]);
    const scheduler = new Scheduler({ pool: q.pool, intervalMs: 0, batchSize: 10, metrics: new Metrics() });
    expect(await scheduler.run()).toBeGreaterThanOrEqual(1); // (other tests' schedules may be due too)
    await scheduler.run(); // nothing more of this one: it moved to the next minute
    const { rows } = await q.pool.query(`select count(*)::int as n from jobs where tenant_id = $1 and queue = 'late'`, [t]);
    expect(rows[0].n).toBe(1);
    const after = (await call(q.client, 'listSchedules', { tenantId: t, page: undefined })).schedules[0];
    expect(after.nextFireAt!.getTime()).toBeGreaterThan(Date.now() - 1000);
  });
});

describe('PauseSchedule / ResumeSchedule', () => {
  const row = async (id: string) =>
    (await q.pool.query<{ paused_at: Date | null; next_fire_at: Date; updated: Date }>(`select paused_at, next_fire_at, updated from schedules where id = $1`, [id])).rows[0];
  const jobsOf = async (t: string, queue: string) =>
    (await q.pool.query<{ key: string }>(`select idempotency_key as key from jobs where tenant_id = $1 and queue = $2 order by 1`, [t, queue])).rows.map((r) => r.key);

  it('a paused schedule does not fire; resumed, it fires from the first fire after now, without the ones the pause skipped', async () => {
    const t = tenant();
    const s = await schedule(t, { name: 'paused-tick', cron: '* * * * * *', timeZone: 'UTC', queue: 'ptick', task: 'tick' });
    const paused = (await call(q.client, 'pauseSchedule', { tenantId: t, scheduleId: s.id })).schedule!;
    expect(paused.pausedAt).toBeInstanceOf(Date);
    expect(paused.nextFireAt).toEqual(s.nextFireAt);
    expect((await call(q.client, 'listSchedules', { tenantId: t, page: undefined })).schedules[0].pausedAt).toEqual(paused.pausedAt);

    // a second pause changes nothing
    const before = await row(s.id);
    expect((await call(q.client, 'pauseSchedule', { tenantId: t, scheduleId: s.id })).schedule!.pausedAt).toEqual(paused.pausedAt);
    expect(await row(s.id)).toEqual(before);

    // two fires fall due while paused: the scheduler does not fire it
    await sleep(2200);
    const scheduler = new Scheduler({ pool: q.pool, intervalMs: 0, batchSize: 100, metrics: new Metrics() });
    await scheduler.run();
    expect(await jobsOf(t, 'ptick')).toEqual([]);
    expect((await row(s.id)).next_fire_at).toEqual(s.nextFireAt);

    const resumed = (await call(q.client, 'resumeSchedule', { tenantId: t, scheduleId: s.id })).schedule!;
    expect(resumed.pausedAt).toBeUndefined();
    // the first fire after the resume: the ones that fell in the pause are skipped
    expect(resumed.nextFireAt!.getTime()).toBeGreaterThanOrEqual(s.nextFireAt!.getTime() + 2000);
    expect(resumed.nextFireAt!.getTime()).toBeLessThanOrEqual(Date.now() + 1500);
    // a second resume changes nothing
    const afterResume = await row(s.id);
    expect((await call(q.client, 'resumeSchedule', { tenantId: t, scheduleId: s.id })).schedule!.nextFireAt).toEqual(resumed.nextFireAt);
    expect(await row(s.id)).toEqual(afterResume);

    await sleep(Math.max(0, resumed.nextFireAt!.getTime() - Date.now()) + 100);
    await scheduler.run();
    const keys = await jobsOf(t, 'ptick');
    expect(keys[0]).toBe(`schedule:${s.id}:${resumed.nextFireAt!.toISOString()}`);
    await call(q.client, 'deleteSchedule', { tenantId: t, scheduleId: s.id });
  }, 30_000);

  it('a pause during a fire waits for the fire to commit: the fire is enqueued once, then nothing more fires', async () => {
    const t = tenant();
    const s = await schedule(t, { name: 'racing', cron: '* * * * * *', timeZone: 'UTC', queue: 'race', task: 'tick' });
    await sleep(Math.max(0, s.nextFireAt!.getTime() - Date.now()) + 50);
    const client = await q.pool.connect();
    let pausedAt = 0;
    let committedAt = 0;
    try {
      await client.query('begin');
      // a scheduler holds the due schedule (others' may be due too: only this one is fired here)
      const due = (await lockDueSchedules(client, 100)).filter((d) => d.id === s.id);
      expect(due).toHaveLength(1);
      const pausing = call(q.client, 'pauseSchedule', { tenantId: t, scheduleId: s.id }).then((r) => {
        pausedAt = Date.now();
        return r.schedule!;
      });
      await sleep(300);
      expect(pausedAt).toBe(0); // waiting on the fire's row lock
      const next = new Date(s.nextFireAt!.getTime() + 1000);
      expect(await fireSchedules(client, [{ scheduleId: s.id, fireAt: s.nextFireAt!, nextFireAt: next, key: fireKey(s.id, s.nextFireAt!) }])).toBe(1);
      await client.query('commit');
      committedAt = Date.now();
      const paused = await pausing;
      expect(pausedAt).toBeGreaterThanOrEqual(committedAt);
      expect(paused.pausedAt).toBeInstanceOf(Date);
      expect(paused.lastFireAt).toEqual(s.nextFireAt); // it saw the fire that committed first
      expect(paused.nextFireAt).toEqual(next);
    } finally {
      client.release();
    }
    await sleep(1300);
    await new Scheduler({ pool: q.pool, intervalMs: 0, batchSize: 100, metrics: new Metrics() }).run();
    expect(await jobsOf(t, 'race')).toEqual([fireKey(s.id, s.nextFireAt!)]);
    await call(q.client, 'deleteSchedule', { tenantId: t, scheduleId: s.id });
  }, 20_000);

  it("refuses malformed ids naming the field and another tenant's schedule, writing nothing", async () => {
    const [t, other] = [tenant(), tenant()];
    const s = await schedule(t, { name: 'guarded' });
    const before = await row(s.id);
    for (const method of ['pauseSchedule', 'resumeSchedule'] as const) {
      const bad = await failure(call(q.client, method, { tenantId: t, scheduleId: 'not-a-uuid' }));
      expect(bad.code).toBe(Status.INVALID_ARGUMENT);
      expect(bad.fieldViolations.map((v) => v.field)).toEqual(['schedule_id']);
      expect((await failure(call(q.client, method, { tenantId: other, scheduleId: s.id }))).code).toBe(Status.NOT_FOUND);
      expect((await failure(call(q.client, method, { tenantId: t, scheduleId: tenant() }))).code).toBe(Status.NOT_FOUND);
    }
    expect(await row(s.id)).toEqual(before);
    await call(q.client, 'deleteSchedule', { tenantId: t, scheduleId: s.id });
  });
});

describe('UpdateSchedule', () => {
  const update = (req: Partial<queueV1.UpdateScheduleRequest> & { tenantId: string; scheduleId: string }) => call(q.client, 'updateSchedule', req).then((r) => r.schedule!);
  const row = async (id: string) => (await q.pool.query(`select * from schedules where id = $1`, [id])).rows[0] as Record<string, unknown>;

  it('changes only the fields set; a new cron moves the next fire, and the next fire enqueues the new job', async () => {
    const t = tenant();
    const s = await schedule(t, { name: 'to-change' });
    // nothing set, or only values it has: returned as it is, nothing written
    const stored = await row(s.id);
    expect(await update({ tenantId: t, scheduleId: s.id })).toEqual(s);
    expect(await update({ tenantId: t, scheduleId: s.id, cron: '0 3 * * *', timeZone: 'Europe/Berlin', priority: 0 })).toEqual(s);
    expect(await row(s.id)).toEqual(stored);

    const before = Date.now();
    const changed = await update({ tenantId: t, scheduleId: s.id, cron: '* * * * * *', timeZone: '', queue: 'changed', payload: { kind: 'hourly' }, priority: 5 });
    expect(changed).toMatchObject({ id: s.id, name: 'to-change', cron: '* * * * * *', timeZone: 'UTC', queue: 'changed', task: 'digest.send', payload: { kind: 'hourly' }, priority: 5, maxAttempts: 5 });
    expect(changed.created).toEqual(s.created);
    // the first fire of the new expression after now, not the old one's 03:00
    expect(changed.nextFireAt!.getTime()).toBeGreaterThan(before - 1000);
    expect(changed.nextFireAt!.getTime()).toBeLessThanOrEqual(Date.now() + 1000);

    await sleep(Math.max(0, changed.nextFireAt!.getTime() - Date.now()) + 100);
    await new Scheduler({ pool: q.pool, intervalMs: 0, batchSize: 100, metrics: new Metrics() }).run();
    const { rows } = await q.pool.query(`select queue, task, payload, priority, idempotency_key as key from jobs where tenant_id = $1`, [t]);
    expect(rows[0]).toEqual({ queue: 'changed', task: 'digest.send', payload: { kind: 'hourly' }, priority: 5, key: fireKey(s.id, changed.nextFireAt!) });

    // a rename alone leaves the rest, and a repeat of it writes nothing
    const renamed = await update({ tenantId: t, scheduleId: s.id, name: 'changed-name' });
    expect(renamed).toMatchObject({ name: 'changed-name', cron: '* * * * * *', queue: 'changed' });
    const afterRename = await row(s.id);
    expect(await update({ tenantId: t, scheduleId: s.id, name: 'changed-name' })).toEqual(renamed);
    expect(await row(s.id)).toEqual(afterRename);
    await call(q.client, 'deleteSchedule', { tenantId: t, scheduleId: s.id });
  }, 20_000);

  it('a paused schedule stays paused with its next fire; resumed, it fires by the new expression', async () => {
    const t = tenant();
    const s = await schedule(t, { name: 'paused-change' });
    const paused = (await call(q.client, 'pauseSchedule', { tenantId: t, scheduleId: s.id })).schedule!;
    const changed = await update({ tenantId: t, scheduleId: s.id, cron: '0 0 1 1 *', timeZone: 'UTC' });
    expect(changed.pausedAt).toEqual(paused.pausedAt);
    expect(changed.nextFireAt).toEqual(s.nextFireAt);
    const resumed = (await call(q.client, 'resumeSchedule', { tenantId: t, scheduleId: s.id })).schedule!;
    expect(resumed.nextFireAt!.toISOString()).toBe(`${new Date().getUTCFullYear() + 1}-01-01T00:00:00.000Z`);
    await call(q.client, 'deleteSchedule', { tenantId: t, scheduleId: s.id });
  });

  it("refuses bad fields naming them, another schedule's name, and another tenant's or an unknown id, writing nothing", async () => {
    const [t, other] = [tenant(), tenant()];
    const s = await schedule(t, { name: 'kept' });
    await schedule(t, { name: 'taken' });
    const before = await q.snapshot();
    const cases: [Partial<queueV1.UpdateScheduleRequest>, string][] = [
      [{ scheduleId: 'not-a-uuid' }, 'schedule_id'],
      [{ cron: 'bogus' }, 'cron:MALFORMED'],
      [{ cron: '' }, 'cron:REQUIRED'],
      [{ cron: '0 0 30 2 *' }, 'cron:MALFORMED'], // never fires
      [{ timeZone: 'Mars/Olympus' }, 'time_zone:MALFORMED'],
      [{ name: 'has space', queue: '', maxAttempts: 101, priority: 5000 }, 'max_attempts:OUT_OF_RANGE name:MALFORMED priority:OUT_OF_RANGE queue:REQUIRED'],
    ];
    for (const [req, expected] of cases) {
      const st = await failure(update({ tenantId: t, scheduleId: s.id, ...req }));
      expect(st.code).toBe(Status.INVALID_ARGUMENT);
      const got = st.fieldViolations.map((v) => (expected.includes(':') ? `${v.field}:${v.reason}` : v.field)).sort().join(' ');
      expect(got).toBe(expected);
      if (expected.startsWith('time_zone')) expect(st.fieldViolations[0].description).toContain('IANA');
    }
    const taken = await failure(update({ tenantId: t, scheduleId: s.id, name: 'taken', cron: '* * * * *' }));
    expect(taken.code).toBe(Status.ALREADY_EXISTS);
    expect(taken.message).toContain('"taken"');
    expect((await failure(update({ tenantId: other, scheduleId: s.id, name: 'theirs' }))).code).toBe(Status.NOT_FOUND);
    expect((await failure(update({ tenantId: t, scheduleId: tenant(), name: 'nobody' }))).code).toBe(Status.NOT_FOUND);
    expect(await q.snapshot()).toEqual(before);
  });

  it('waits for a fire of the schedule in progress to commit', async () => {
    const t = tenant();
    const s = await schedule(t, { name: 'racing-update', cron: '* * * * * *', timeZone: 'UTC', queue: 'urace', task: 'tick' });
    await sleep(Math.max(0, s.nextFireAt!.getTime() - Date.now()) + 50);
    const client = await q.pool.connect();
    try {
      await client.query('begin');
      expect((await lockDueSchedules(client, 100)).filter((d) => d.id === s.id)).toHaveLength(1);
      let updatedAt = 0;
      const updating = update({ tenantId: t, scheduleId: s.id, task: 'tock' }).then((r) => {
        updatedAt = Date.now();
        return r;
      });
      await sleep(300);
      expect(updatedAt).toBe(0); // waiting on the fire's row lock
      const next = new Date(s.nextFireAt!.getTime() + 1000);
      expect(await fireSchedules(client, [{ scheduleId: s.id, fireAt: s.nextFireAt!, nextFireAt: next, key: fireKey(s.id, s.nextFireAt!) }])).toBe(1);
      // PostgreSQL releases the row lock when it commits, which may be before this client has
      // read the commit's reply: the update can only finish after the commit was sent.
      const commitSentAt = Date.now();
      await client.query('commit');
      const changed = await updating;
      expect(updatedAt).toBeGreaterThanOrEqual(commitSentAt);
      expect(changed).toMatchObject({ task: 'tock', lastFireAt: s.nextFireAt, nextFireAt: next });
    } finally {
      client.release();
    }
    // the fire that committed first enqueued the old task
    const { rows } = await q.pool.query(`select task from jobs where tenant_id = $1 and queue = 'urace'`, [t]);
    expect(rows).toEqual([{ task: 'tick' }]);
    await call(q.client, 'deleteSchedule', { tenantId: t, scheduleId: s.id });
  }, 20_000);
});

describe('retention', () => {
  it('deletes old finished jobs with their logs in batches; keeps live and recent ones', async () => {
    const t = tenant();
    const ids = (
      await call(q.client, 'enqueueJobs', {
        tenantId: t,
        jobs: Array.from({ length: 10 }, (_, i) => ({
          ...NO_KEYS,
          queue: 'ret',
          task: `t${i}`,
          payload: { i },
          payloadJson: Buffer.alloc(0),
          priority: 0,
          runAt: undefined,
          maxAttempts: 0,
          idempotencyKey: '',
        })),
      })
    ).results.map((r) => r.jobId);
    // t0-t2 old succeeded, t3 recent succeeded (created long before: a delayed job; retention
    // reads jobs by created and must check finished), t4 old dead, t5 dead 2 days ago (kept:
    // 5 days), t6 old cancelled, t7 old queued, t8 running, t9 failed waiting for a retry.
    // A job finishes after it was created, as in real rows (the column's default is the clock).
    const set = (i: number, sql: string) => q.pool.query(`update jobs set ${sql} where id = $1`, [ids[i]]);
    for (const i of [0, 1, 2]) await set(i, `status = 'succeeded', created = now() - interval '3 hours', finished = now() - interval '2 hours'`);
    await set(3, `status = 'succeeded', created = now() - interval '20 days', finished = now() - interval '10 minutes'`);
    await set(4, `status = 'dead', created = now() - interval '7 days', finished = now() - interval '6 days'`);
    await set(5, `status = 'dead', created = now() - interval '9 days', finished = now() - interval '2 days'`);
    await set(6, `status = 'cancelled', created = now() - interval '6 days 1 hour', finished = now() - interval '6 days'`);
    await set(7, `created = now() - interval '30 days', run_at = now() - interval '30 days'`);
    await set(8, `status = 'running', attempts = 1, locked_by = 'w', locked_until = now() + interval '1 hour'`);
    await set(9, `status = 'failed', attempts = 1, run_at = now() + interval '1 hour'`);
    for (const id of ids) await call(q.client, 'appendJobLog', { tenantId: t, jobId: id, level: 0, message: 'line', data: undefined });

    const metrics = new Metrics();
    const retention = new JobRetention({ pool: q.pool, intervalMs: 0, batchSize: 2, succeededSeconds: 3600, deadSeconds: 5 * 86_400, metrics });
    // other tenants' test jobs are all recent: only these five are old enough
    expect(await retention.run()).toBe(5);
    const { rows } = await q.pool.query<{ task: string }>(`select task from jobs where tenant_id = $1 order by task`, [t]);
    expect(rows.map((r) => r.task)).toEqual(['t3', 't5', 't7', 't8', 't9']);
    const logs = await q.pool.query<{ n: number }>(`select count(*)::int as n from job_logs where tenant_id = $1`, [t]);
    expect(logs.rows[0].n).toBe(5);
    const text = await metrics.text();
    expect(text).toContain('pm_queue_retention_deleted_total{status="succeeded"} 3');
    expect(text).toContain('pm_queue_retention_deleted_total{status="dead_or_cancelled"} 2');
    expect(await retention.run()).toBe(0);
  });

  it('finds old finished jobs of every tenant, batch after batch, and leaves the tenants with none alone', async () => {
    const [a, none, b] = [tenant(), tenant(), tenant()];
    const add = (t: string, n: number, status: string, age: string) =>
      q.pool.query(
        `insert into jobs (tenant_id, queue, task, status, created, finished)
         select $1, 'many', 'x', $2, now() - $3::interval - interval '1 minute', now() - $3::interval from generate_series(1, $4::int)`,
        [t, status, age, n],
      );
    await add(a, 3, 'succeeded', '2 days');
    await add(a, 1, 'succeeded', '1 minute');
    await add(none, 4, 'succeeded', '5 minutes');
    await add(none, 2, 'dead', '1 day');
    await add(b, 2, 'succeeded', '3 days');
    await add(b, 3, 'cancelled', '8 days');
    const retention = new JobRetention({ pool: q.pool, intervalMs: 0, batchSize: 2, succeededSeconds: 3600, deadSeconds: 5 * 86_400 });
    expect(await retention.run()).toBeGreaterThanOrEqual(8);
    const { rows } = await q.pool.query<{ tenant_id: string; status: string; n: number }>(
      `select tenant_id, status, count(*)::int as n from jobs where tenant_id = any($1::uuid[]) group by 1, 2 order by 1, 2`,
      [[a, none, b]],
    );
    const left = Object.fromEntries(rows.map((r) => [`${r.tenant_id === a ? 'a' : r.tenant_id === b ? 'b' : 'none'}:${r.status}`, r.n]));
    expect(left).toEqual({ 'a:succeeded': 1, 'none:succeeded': 4, 'none:dead': 2 });
  });

  it('a claim runs while a retention batch holds its rows, without waiting', async () => {
    const t = tenant();
    await q.pool.query(
      `insert into jobs (tenant_id, queue, task, status, created, finished)
       select $1, 'busy', 'old', 'succeeded', now() - interval '31 days', now() - interval '30 days' from generate_series(1, 50)`,
      [t],
    );
    await q.pool.query(`insert into jobs (tenant_id, queue, task) values ($1, 'busy', 'fresh')`, [t]);
    const client = await q.pool.connect();
    try {
      await client.query('begin');
      expect(await deleteFinishedJobs(client, { cls: 'succeeded', olderThanSeconds: 86_400, limit: 1000 })).toBeGreaterThanOrEqual(50);
      // the batch is uncommitted, its rows locked: a claim of the same tenant's queue goes through
      const started = Date.now();
      const claimed = await call(
        q.client,
        'claimJobs',
        { tenantId: t, queue: 'busy', workerId: 'w', maxJobs: 10, leaseSeconds: 30, waitMs: 0, complete: [], lean: false },
        { deadlineMs: 5000 },
      );
      expect(claimed.jobs.map((j) => j.task)).toEqual(['fresh']);
      expect(Date.now() - started).toBeLessThan(5000);
      // and a second retention run (another replica) skips the locked rows instead of waiting
      const other = await withTransaction(q.pool, (c) => deleteFinishedJobs(c, { cls: 'succeeded', olderThanSeconds: 86_400, limit: 1000 }));
      expect(other).toBe(0);
      await client.query('commit');
    } finally {
      client.release();
    }
    const { rows } = await q.pool.query(`select count(*)::int as n from jobs where tenant_id = $1`, [t]);
    expect(rows[0].n).toBe(1);
  });
});
