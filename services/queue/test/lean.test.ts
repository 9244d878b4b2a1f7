import { status as Status } from '@grpc/grpc-js';
import { commonV1, queueV1 } from '@penguinmails/contracts';
import { call } from '@penguinmails/service-kit';
import { failure, NO_KEYS, type Queue, startQueue, tenant } from './harness';

// The lean worker protocol: EnqueueJobs payload_json, ClaimJobs { lean } (ClaimedJob with the
// payload as JSON bytes) and ClaimJobs { complete } (ack-and-fetch in one call).

const { EnqueueOutcome, EndOutcome, JobStatus } = queueV1;

let q: Queue;
beforeAll(async () => {
  q = await startQueue({ batchMax: 50, payloadMaxBytes: 1024 });
});
afterAll(async () => {
  await q?.stop();
});

const json = (v: unknown) => Buffer.from(typeof v === 'string' ? v : JSON.stringify(v));
const newJob = (j: Partial<queueV1.NewJob> = {}): queueV1.NewJob => ({
  ...NO_KEYS,
  queue: 'send',
  task: 'campaign.send_step',
  payload: undefined,
  payloadJson: Buffer.alloc(0),
  priority: 0,
  maxAttempts: 0,
  idempotencyKey: '',
  runAt: undefined,
  ...j,
});
const claimReq = (tenantId: string, workerId: string, extra: Partial<queueV1.ClaimJobsRequest> = {}): queueV1.ClaimJobsRequest => ({
  tenantId,
  queue: 'send',
  workerId,
  maxJobs: 10,
  leaseSeconds: 60,
  waitMs: 0,
  complete: [],
  lean: true,
  ...extra,
});
const done = (id: string, attempt: number, extra: Partial<queueV1.JobAttempt> = {}): queueV1.JobAttempt => ({
  jobId: id,
  attempt,
  output: undefined,
  error: '',
  permanent: false,
  retryAfterSeconds: 0,
  ...extra,
});

describe('payload_json on EnqueueJobs', () => {
  it('stores the JSON object as given; GetJob reads it as the payload; a key repeat compares it', async () => {
    const t = tenant();
    const r = await call(q.client, 'enqueueJobs', {
      tenantId: t,
      jobs: [newJob({ payloadJson: json({ lead_id: 'l-1', n: 2, nested: { é: ['x'] } }), idempotencyKey: 'k' }), newJob({ payload: { a: 1 } })],
    });
    expect(r.results.map((x) => x.outcome)).toEqual([EnqueueOutcome.ENQUEUE_OUTCOME_CREATED, EnqueueOutcome.ENQUEUE_OUTCOME_CREATED]);
    const job = (await call(q.client, 'getJob', { tenantId: t, jobId: r.results[0].jobId })).job!;
    expect(job.payload).toEqual({ lead_id: 'l-1', n: 2, nested: { é: ['x'] } });
    // The same work with the keys in another order is the same job; other work is a conflict.
    const again = await call(q.client, 'enqueueJobs', {
      tenantId: t,
      jobs: [newJob({ payloadJson: json('{"n":2,"nested":{"é":["x"]},"lead_id":"l-1"}'), idempotencyKey: 'k' }), newJob({ payloadJson: json({ n: 3 }), idempotencyKey: 'k' })],
    });
    expect(again.results.map((x) => x.outcome)).toEqual([EnqueueOutcome.ENQUEUE_OUTCOME_EXISTING, EnqueueOutcome.ENQUEUE_OUTCOME_KEY_CONFLICT]);
  });

  it.each([
    ['not UTF-8', Buffer.from([0x7b, 0xff, 0x7d])],
    ['not JSON', json('{"a":')],
    ['an array', json('[1,2]')],
    ['a string', json('"x"')],
    ['null', json('null')],
    ['a NUL escape', json('{"a":"x\\u0000y"}')],
    ['a NUL escape in a key', json('{"\\u0000":1}')],
    ['a lone surrogate', json('{"a":"\\ud800"}')],
    ['too deep', json('{"a":' + '['.repeat(150) + ']'.repeat(150) + '}')],
    ['too large', json({ a: 'x'.repeat(2000) })],
  ])('refuses payload_json that is %s, naming the field, writing nothing', async (_what, bytes) => {
    const t = tenant();
    const before = await q.snapshot();
    const st = await failure(call(q.client, 'enqueueJobs', { tenantId: t, jobs: [newJob(), newJob({ payloadJson: bytes })] }));
    expect(st.code).toBe(Status.INVALID_ARGUMENT);
    expect(st.fieldViolations.map((f) => f.field)).toEqual(['jobs[1].payload_json']);
    expect(await q.snapshot()).toEqual(before);
  });

  it('refuses payload and payload_json together', async () => {
    const before = await q.snapshot();
    const st = await failure(call(q.client, 'enqueueJobs', { tenantId: tenant(), jobs: [newJob({ payload: { a: 1 }, payloadJson: json({ a: 1 }) })] }));
    expect(st.code).toBe(Status.INVALID_ARGUMENT);
    expect(st.fieldViolations.map((f) => f.field)).toEqual(['jobs[0].payload_json']);
    expect(await q.snapshot()).toEqual(before);
  });
});

describe('ClaimJobs lean + complete (ack-and-fetch)', () => {
  it('stores each completed job its own output, and none where a job gave none, in one ack-and-fetch', async () => {
    const t = tenant();
    await call(q.client, 'enqueueJobs', { tenantId: t, jobs: [1, 2, 3, 4].map((i) => newJob({ payloadJson: json({ i }) })) });
    const first = await call(q.client, 'claimJobs', claimReq(t, 'w1', { maxJobs: 4 }));
    expect(first.claimed).toHaveLength(4);
    const outputs = [{ a: 1 }, undefined, { b: [2, { c: 'é' }] }, undefined];
    const second = await call(q.client, 'claimJobs', claimReq(t, 'w1', { complete: first.claimed.map((j, i) => done(j.id, j.attempt, { output: outputs[i] })) }));
    expect(second.completed.map((r) => r.outcome)).toEqual(outputs.map(() => EndOutcome.END_OUTCOME_DONE));
    for (const [i, j] of first.claimed.entries()) {
      const got = (await call(q.client, 'getJob', { tenantId: t, jobId: j.id })).job!;
      expect([got.status, got.output]).toEqual([JobStatus.JOB_STATUS_SUCCEEDED, outputs[i]]);
    }
  });

  it('claims lean jobs in claim order with JSON payloads, then completes them with the next claim', async () => {
    const t = tenant();
    await call(q.client, 'enqueueJobs', {
      tenantId: t,
      jobs: [newJob({ payloadJson: json({ i: 1 }) }), newJob({ payloadJson: json({ i: 2 }), priority: 5 }), newJob({ payload: { i: 3 }, priority: -1 })], // one statement: one run_at, so priority orders them
    });
    const first = await call(q.client, 'claimJobs', claimReq(t, 'w1', { maxJobs: 2 }));
    expect(first.jobs).toEqual([]);
    expect(first.completed).toEqual([]);
    expect(first.claimed.map((j) => [JSON.parse(Buffer.from(j.payloadJson).toString()), j.attempt, j.task, j.tenantId])).toEqual([
      [{ i: 2 }, 1, 'campaign.send_step', ''],
      [{ i: 1 }, 1, 'campaign.send_step', ''],
    ]);
    const second = await call(q.client, 'claimJobs', claimReq(t, 'w1', { complete: first.claimed.map((j) => done(j.id, j.attempt, { output: { ok: true } })) }));
    expect(second.completed.map((r) => [r.jobId, r.outcome, r.status])).toEqual(
      first.claimed.map((j) => [j.id, EndOutcome.END_OUTCOME_DONE, JobStatus.JOB_STATUS_SUCCEEDED]),
    );
    expect(second.claimed.map((j) => JSON.parse(Buffer.from(j.payloadJson).toString()))).toEqual([{ i: 3 }]);
    const got = (await call(q.client, 'getJob', { tenantId: t, jobId: first.claimed[0].id })).job!;
    expect(got).toMatchObject({ status: JobStatus.JOB_STATUS_SUCCEEDED, output: { ok: true } });
    // A repeat of the same completion (lost reply) is REPEATED; another worker's is LEASE_LOST.
    const third = await call(q.client, 'claimJobs', claimReq(t, 'w1', { complete: [done(first.claimed[0].id, 1), done(second.claimed[0].id, 1)], lean: false }));
    expect(third.completed.map((r) => r.outcome)).toEqual([EndOutcome.END_OUTCOME_REPEATED, EndOutcome.END_OUTCOME_DONE]);
    const other = await call(q.client, 'claimJobs', claimReq(t, 'w2', { complete: [done(first.claimed[1].id, 1)] }));
    expect(other.completed[0].outcome).toBe(EndOutcome.END_OUTCOME_LEASE_LOST);
    // JobsSucceeded was written once per completing call (two calls completed jobs).
    const { rows } = await q.pool.query(`select count(*)::int as n from outbox_events where tenant_id = $1 and event_type = 'penguinmails.queue.v1.JobsSucceeded'`, [t]);
    expect(rows[0].n).toBe(2);
  });

  it('refuses a bad complete list naming the fields, writing nothing (not even the claim)', async () => {
    const t = tenant();
    await call(q.client, 'enqueueJobs', { tenantId: t, jobs: [newJob()] });
    const { claimed } = await call(q.client, 'claimJobs', claimReq(t, 'w1'));
    const before = await q.snapshot();
    const st = await failure(
      call(q.client, 'claimJobs', claimReq(t, 'w1', { complete: [done(claimed[0].id, 1, { error: 'x' }), done('nope', 0), done(claimed[0].id, 1, { permanent: true })] })),
    );
    expect(st.code).toBe(Status.INVALID_ARGUMENT);
    expect(st.fieldViolations.map((f) => f.field).sort()).toEqual(
      ['complete[0].error', 'complete[1].attempt', 'complete[1].job_id', 'complete[2].job_id', 'complete[2].permanent'].sort(),
    );
    expect(await q.snapshot()).toEqual(before);
  });
});

// The lean claim of one tenant's queue is ONE statement: the SQL function pm_queue_claim_lean
// (migration 20261229000000_claim_lean_function) completes, writes the JobsSucceeded row (its
// envelope encoded in SQL), and claims; with expired leases or grouped jobs waiting it stops
// after the completion and the service claims the slow way.
describe('ClaimJobs lean in one statement (pm_queue_claim_lean)', () => {
  it('writes the JobsSucceeded envelope the service encoder would write, byte for byte', async () => {
    const t = tenant();
    const task = 'campaign.send_step.' + 'x'.repeat(80); // 99 characters
    await call(q.client, 'enqueueJobs', { tenantId: t, jobs: [newJob({ task }), newJob({ queue: 'send', payloadJson: json({ i: 2 }) }), newJob()] });
    const first = await call(q.client, 'claimJobs', claimReq(t, 'w1'));
    expect(first.claimed).toHaveLength(3);
    const second = await call(q.client, 'claimJobs', claimReq(t, 'w1', { complete: first.claimed.map((j) => done(j.id, j.attempt)) }));
    expect(second.completed.map((r) => r.outcome)).toEqual(first.claimed.map(() => EndOutcome.END_OUTCOME_DONE));
    expect(second.claimed).toEqual([]);

    const event = await q.lastEvent(q.nats.names.subject('queue', t, 'jobs_succeeded'));
    const env = commonV1.EventEnvelope.decode(event!.data);
    expect(env).toMatchObject({ tenantId: t, eventType: 'penguinmails.queue.v1.JobsSucceeded', source: 'queue' });
    const { rows } = await q.pool.query(`select id::text, payload from outbox_events where tenant_id = $1`, [t]);
    expect(rows).toHaveLength(1);
    expect(env.eventId).toBe(rows[0].id);
    const payload = queueV1.JobsSucceeded.decode(env.payload);
    const jobs = await Promise.all(first.claimed.map(async (j) => (await call(q.client, 'getJob', { tenantId: t, jobId: j.id })).job!));
    const byId = (a: { id: string }, b: { id: string }) => (a.id < b.id ? -1 : 1);
    expect([...payload.jobs].sort(byId)).toEqual(
      jobs.map((j) => ({ id: j.id, queue: j.queue, task: j.task, attempts: 1, finished: j.finished })).sort(byId),
    );
    expect(env.occurredAt).toEqual(jobs[0].finished);
    // What ts-proto writes for the decoded message is the stored row, byte for byte.
    const again = commonV1.EventEnvelope.encode({ ...env, payload: Buffer.from(queueV1.JobsSucceeded.encode(payload).finish()) }).finish();
    expect(Buffer.from(again).equals(Buffer.from(rows[0].payload))).toBe(true);
    expect(Buffer.from(event!.data).equals(Buffer.from(rows[0].payload))).toBe(true);
  });

  it('plans its statements with each call\'s values (a generic plan was 3-6x slower on a fresh backlog)', async () => {
    // The one function: the 13-argument one the service calls (20270102000000_claim_reply_budget,
    // its completion by primary key since 20270104000000_completion_by_primary_key:
    // lease-plans.test.ts); the 12-argument one of the version before is gone since
    // 20270105000000_drop_claim_lean_12_args.
    const { rows } = await q.pool.query(`select pronargs, proconfig from pg_proc where proname = 'pm_queue_claim_lean' order by pronargs`);
    const custom = 'plan_cache_mode=force_custom_plan';
    expect(rows).toEqual([{ pronargs: 13, proconfig: [custom, 'enable_seqscan=off', 'enable_hashjoin=off', 'enable_mergejoin=off'] }]);
  });

  it('explains the jobs its completion did not match: REPEATED, LEASE_LOST, NOT_FOUND next to DONE', async () => {
    const t = tenant();
    const other = tenant();
    await call(q.client, 'enqueueJobs', { tenantId: t, jobs: [newJob(), newJob(), newJob()] });
    await call(q.client, 'enqueueJobs', { tenantId: other, jobs: [newJob()] });
    const [a, b, c] = (await call(q.client, 'claimJobs', claimReq(t, 'w1'))).claimed;
    const [x] = (await call(q.client, 'claimJobs', claimReq(other, 'w1'))).claimed;
    await call(q.client, 'claimJobs', claimReq(t, 'w1', { complete: [done(a.id, 1)] }));
    const r = await call(q.client, 'claimJobs', claimReq(t, 'w1', { complete: [done(a.id, 1), done(b.id, 1), done(c.id, 2), done(x.id, 1)] }));
    expect(r.completed.map((e) => [e.jobId, e.outcome, e.status])).toEqual([
      [a.id, EndOutcome.END_OUTCOME_REPEATED, JobStatus.JOB_STATUS_SUCCEEDED],
      [b.id, EndOutcome.END_OUTCOME_DONE, JobStatus.JOB_STATUS_SUCCEEDED],
      [c.id, EndOutcome.END_OUTCOME_LEASE_LOST, JobStatus.JOB_STATUS_RUNNING],
      [x.id, EndOutcome.END_OUTCOME_NOT_FOUND, JobStatus.JOB_STATUS_UNSPECIFIED],
    ]);
    // one JobsSucceeded per completing call, listing only what that call completed
    const { rows } = await q.pool.query(`select payload from outbox_events where tenant_id = $1 order by created`, [t]);
    expect(rows.map((row) => queueV1.JobsSucceeded.decode(commonV1.EventEnvelope.decode(row.payload).payload).jobs.map((j) => j.id))).toEqual([[a.id], [b.id]]);
    expect((await q.pool.query(`select status from jobs where id = $1`, [x.id])).rows[0].status).toBe('running');
  });

  it('stores the trace context it is given on the outbox row', async () => {
    const t = tenant();
    await call(q.client, 'enqueueJobs', { tenantId: t, jobs: [newJob()] });
    const { claimed } = await call(q.client, 'claimJobs', claimReq(t, 'w1'));
    const tp = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01';
    await q.pool.query(`select * from pm_queue_claim_lean($1, 'send', 'w1', 10, 60, $2::uuid[], $3::int[], $4::jsonb[], 'pm.queue.t.jobs_succeeded', $5, 'k=v', null, 4194304)`, [
      t,
      [claimed[0].id],
      [1],
      [null],
      tp,
    ]);
    const { rows } = await q.pool.query(`select subject, traceparent, tracestate from outbox_events where tenant_id = $1`, [t]);
    expect(rows).toEqual([{ subject: 'pm.queue.t.jobs_succeeded', traceparent: tp, tracestate: 'k=v' }]);
  });

  it('encodes varints as protobuf does', async () => {
    const values = [0n, 1n, 127n, 128n, 300n, 16383n, 16384n, 2097151n, 2097152n, 1795000000n, 999000000n, 2n ** 35n, 2n ** 62n];
    const varint = (v: bigint) => {
      const out: number[] = [];
      while (v >= 128n) {
        out.push(Number(v & 127n) | 128);
        v >>= 7n;
      }
      out.push(Number(v));
      return Buffer.from(out).toString('hex');
    };
    const { rows } = await q.pool.query<{ hex: string }>(`select encode(pm_queue_pb_varint(v), 'hex') as hex from unnest($1::bigint[]) with ordinality as u(v, n) order by n`, [
      values.map(String),
    ]);
    expect(rows.map((r) => r.hex)).toEqual(values.map(varint));
  });

  it('with an expired lease in the queue: completes, then takes the lease back and hands the job out in the same call', async () => {
    const t = tenant();
    await call(q.client, 'enqueueJobs', { tenantId: t, jobs: [newJob({ payloadJson: json({ i: 1 }) }), newJob({ payloadJson: json({ i: 2 }) })] });
    const a = await call(q.client, 'claimJobs', claimReq(t, 'w1', { maxJobs: 1 }));
    const b = await call(q.client, 'claimJobs', claimReq(t, 'w2', { maxJobs: 1 }));
    // w1's lease runs out (set in the past rather than waited for).
    await q.pool.query(`update jobs set locked_until = now() - interval '1 second' where id = $1`, [a.claimed[0].id]);
    const r = await call(q.client, 'claimJobs', claimReq(t, 'w2', { complete: [done(b.claimed[0].id, 1)] }));
    expect(r.completed.map((x) => [x.jobId, x.outcome])).toEqual([[b.claimed[0].id, EndOutcome.END_OUTCOME_DONE]]);
    expect(r.claimed.map((j) => [j.id, j.attempt])).toEqual([[a.claimed[0].id, 2]]);
    const logs = await q.pool.query(`select attempt, message from job_logs where job_id = $1`, [a.claimed[0].id]);
    expect(logs.rows).toEqual([{ attempt: 1, message: expect.stringMatching(/lease of worker w1 expired/) }]);
    // w1's late completion is refused: the attempt ended by lease expiry.
    const late = await call(q.client, 'claimJobs', claimReq(t, 'w1', { complete: [done(a.claimed[0].id, 1)] }));
    expect(late.completed[0].outcome).toBe(EndOutcome.END_OUTCOME_LEASE_LOST);
  });

  it('with grouped jobs in the queue: the group limit holds and ungrouped jobs fill the batch', async () => {
    const t = tenant();
    const g = { groupKey: 'mailbox-1', groupLimit: 1 };
    await call(q.client, 'enqueueJobs', { tenantId: t, jobs: [newJob({ ...g }), newJob({ ...g }), newJob(), newJob()] });
    const first = await call(q.client, 'claimJobs', claimReq(t, 'w1'));
    expect(first.claimed).toHaveLength(3); // one of the group, both ungrouped
    const second = await call(q.client, 'claimJobs', claimReq(t, 'w1', { complete: first.claimed.map((j) => done(j.id, 1)) }));
    expect(second.completed.map((x) => x.outcome)).toEqual(first.claimed.map(() => EndOutcome.END_OUTCOME_DONE));
    expect(second.claimed).toHaveLength(1); // the group's second job, now that its slot is free
    const { rows } = await q.pool.query(`select status, count(*)::int as n from jobs where tenant_id = $1 group by status order by status`, [t]);
    expect(rows).toEqual([
      { status: 'running', n: 1 },
      { status: 'succeeded', n: 3 },
    ]);
  });

  it('rolls the whole statement back when the deadline passed (nothing completed, claimed or written to the outbox)', async () => {
    const t = tenant();
    await call(q.client, 'enqueueJobs', { tenantId: t, jobs: [newJob(), newJob()] });
    const { claimed } = await call(q.client, 'claimJobs', claimReq(t, 'w1', { maxJobs: 1 }));
    const before = await q.snapshot();
    const err = await q.pool
      .query(`select * from pm_queue_claim_lean($1, 'send', 'w1', 10, 60, $2::uuid[], $3::int[], $4::jsonb[], 'x', null, null, now() - interval '1 second', 4194304)`, [
        t,
        [claimed[0].id],
        [1],
        [null],
      ])
      .then(
        () => undefined,
        (e: { code?: string }) => e,
      );
    expect(err?.code).toBe('PMQ01');
    expect(await q.snapshot()).toEqual(before);
  });
});
