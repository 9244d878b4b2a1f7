// The `penguinmails` CLI (bin/penguinmails.mjs, over the built dist/) as a user runs it.
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import { startPlatform, type Platform } from '@penguinmails/testkit';
import { createPlatform, queueV1 } from '../src';

const BIN = path.join(__dirname, '..', 'bin', 'penguinmails.mjs');

function cli(args: string[], env: NodeJS.ProcessEnv = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [BIN, ...args],
      // An empty stack file location keeps a developer's running `npm start` out of the test.
      { env: { PATH: process.env.PATH, PM_STACK_FILE: path.join(os.tmpdir(), `no-stack-${randomUUID()}.json`), PM_RETRY_MAX_ATTEMPTS: '1', ...env } },
      (err, stdout, stderr) => resolve({ code: err ? Number((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    );
  });
}

const envFor = (addresses: Partial<Record<string, string>>) =>
  Object.fromEntries(Object.entries(addresses).map(([name, address]) => [`PM_${name.toUpperCase()}_URL`, address!]));

describe('without services', () => {
  test('usage mistakes are one line and exit 1', async () => {
    expect(await cli(['campaigns', 'list'])).toMatchObject({ code: 1, stderr: 'error: --tenant is required\n' });
    expect(await cli(['frobnicate'])).toMatchObject({ code: 1, stderr: 'error: unknown command "frobnicate" (see penguinmails --help)\n' });
    expect((await cli(['--help'])).stdout).toMatch(/^usage: penguinmails/);
  });

  test('nothing listening: one line naming UNAVAILABLE, no stack trace; status says not answering', async () => {
    const down = envFor({ metadata: '127.0.0.1:1', content: '127.0.0.1:1', queue: '127.0.0.1:1', analytics: '127.0.0.1:1' });
    const r = await cli(['campaigns', 'list', '--tenant', randomUUID()], down);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^error: UNAVAILABLE: .*npm start/);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    const s = await cli(['status', '--json'], down);
    expect(s.code).toBe(1);
    expect(JSON.parse(s.stdout).map((h: { status: string }) => h.status)).toEqual(['UNAVAILABLE', 'UNAVAILABLE', 'UNAVAILABLE', 'UNAVAILABLE']);
  });

  test('a stale stack file is ignored, and the CLI says so', async () => {
    const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'pm-stack-')), 'stack.json');
    const services = { metadata: '127.0.0.1:1', content: '127.0.0.1:1', queue: '127.0.0.1:1', analytics: '127.0.0.1:1' };
    fs.writeFileSync(file, JSON.stringify({ version: 1, pid: 999_999_999, started: new Date().toISOString(), services }));
    const r = await cli(['status'], { PM_STACK_FILE: file });
    expect(r.stderr).toContain('is not running; using the default ports');
    expect(r.stdout).toContain('127.0.0.1:50051');
  });
});

describe('jobs and schedules (queue)', () => {
  let platform: Platform;
  beforeAll(async () => {
    platform = await startPlatform({ services: ['queue'] });
  });
  afterAll(() => platform?.stop());

  test('jobs list: a table, --json, and a bad tenant id as one line from the service', async () => {
    const tenantId = randomUUID();
    const pm = createPlatform({ addresses: platform.addresses }, { env: {} });
    const { job } = await pm.queue.enqueueJob({ tenantId, queue: 'send', task: 'campaign.send_step', idempotencyKey: 'k' });
    pm.close();
    const env = envFor(platform.addresses);
    const table = await cli(['jobs', 'list', '--tenant', tenantId, '--queue', 'send'], env);
    expect(table.code).toBe(0);
    expect(table.stdout).toMatch(/^id\s+queue\s+task\s+status/);
    expect(table.stdout).toContain(`${job!.id}  send   campaign.send_step  queued`);
    const json = await cli(['jobs', 'list', '--tenant', tenantId, '--json'], env);
    expect(JSON.parse(json.stdout).jobs[0]).toMatchObject({ id: job!.id, queue: 'send' });
    const bad = await cli(['jobs', 'list', '--tenant', 'nope'], env);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/^error: tenant_id: .*UUID.*\n$/);
    // A stack file of a live launcher (this process) is used when no address is set.
    const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'pm-stack-')), 'stack.json');
    fs.writeFileSync(file, JSON.stringify({ version: 1, pid: process.pid, started: new Date().toISOString(), services: { ...platform.addresses, metadata: '127.0.0.1:1', content: '127.0.0.1:1', analytics: '127.0.0.1:1' } }));
    const viaStack = await cli(['jobs', 'list', '--tenant', tenantId], { PM_STACK_FILE: file });
    expect(viaStack.stdout).toContain(job!.id);
  });

  test('jobs stats: one tenant, or every tenant summed per queue; a bad queue name is one line', async () => {
    const [a, b] = [randomUUID(), randomUUID()];
    const queue = `cli-stats-${Date.now()}`;
    const pm = createPlatform({ addresses: platform.addresses }, { env: {} });
    await pm.queue.enqueueJobs({ tenantId: a, jobs: [{ queue, task: 't' }, { queue, task: 't' }] });
    await pm.queue.enqueueJob({ tenantId: b, queue, task: 't' });
    pm.close();
    const env = envFor(platform.addresses);
    const all = await cli(['jobs', 'stats', '--queue', queue], env);
    expect(all).toMatchObject({ code: 0, stderr: '' });
    expect(all.stdout).toMatch(/^queue\s+queued\s+held\s+running\s+failed\s+dead/);
    expect(all.stdout).toMatch(new RegExp(`\\n${queue}\\s+3\\s+0\\s+0\\s+0\\s+0\\s+0\\s+0\\s+(\\d+\\.\\d s|-)\\s+0\\s+0\\s+0\\s*\\n`));
    const one = await cli(['jobs', 'stats', '--tenant', a, '--queue', queue, '--json'], env);
    expect(JSON.parse(one.stdout).queues).toEqual([expect.objectContaining({ queue, queued: '2', running: '0' })]);
    const bad = await cli(['jobs', 'stats', '--queue', 'a b'], env);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/^error: queue: .*\n$/);
  });

  test('jobs hold and jobs release move a key\'s waiting jobs; a missing --key is one line', async () => {
    const tenantId = randomUUID();
    const queue = `cli-hold-${Date.now()}`;
    const pm = createPlatform({ addresses: platform.addresses }, { env: {} });
    const { job } = await pm.queue.enqueueJob({ tenantId, queue, task: 't', holdKey: 'mailbox:42' });
    const env = envFor(platform.addresses);
    const held = await cli(['jobs', 'hold', '--tenant', tenantId, '--key', 'mailbox:42'], env);
    expect(held).toMatchObject({ code: 0, stderr: '', stdout: 'held 1 job(s) of key mailbox:42\n' });
    expect((await pm.queue.getJob({ tenantId, jobId: job!.id })).job!.status).toBe(queueV1.JobStatus.JOB_STATUS_HELD);
    const holds = await cli(['jobs', 'holds', '--tenant', tenantId], env);
    expect(holds.stdout).toMatch(/^hold key\s+held since\s+held jobs\n/);
    expect(holds.stdout).toMatch(/\nmailbox:42\s+\S+\s+1\s*\n/);
    const stats = await cli(['jobs', 'stats', '--tenant', tenantId, '--queue', queue, '--json'], env);
    expect(JSON.parse(stats.stdout).queues).toEqual([expect.objectContaining({ queue, queued: '0', held: '1' })]);
    const released = await cli(['jobs', 'release', '--tenant', tenantId, '--key', 'mailbox:42', '--json'], env);
    expect(JSON.parse(released.stdout)).toEqual({ holdKey: 'mailbox:42', releasedJobs: '1' });
    expect((await pm.queue.getJob({ tenantId, jobId: job!.id })).job!.status).toBe(queueV1.JobStatus.JOB_STATUS_QUEUED);
    // --cancel-waiting: the key's waiting job is cancelled, the key held
    const cancelled = await cli(['jobs', 'hold', '--tenant', tenantId, '--key', 'mailbox:42', '--cancel-waiting'], env);
    expect(cancelled).toMatchObject({ code: 0, stderr: '', stdout: 'cancelled 1 waiting job(s) of key mailbox:42; the key is held\n' });
    expect((await pm.queue.getJob({ tenantId, jobId: job!.id })).job!.status).toBe(queueV1.JobStatus.JOB_STATUS_CANCELLED);
    pm.close();
    const missing = await cli(['jobs', 'hold', '--tenant', tenantId], env);
    expect(missing).toMatchObject({ code: 1, stderr: 'error: --key is required\n' });
    const wrong = await cli(['jobs', 'release', '--tenant', tenantId, '--key', 'k', '--cancel-waiting'], env);
    expect(wrong).toMatchObject({ code: 1, stderr: 'error: --cancel-waiting goes with jobs hold\n' });
  });

  test('jobs cancel: a waiting job, a running one only with --running; jobs limit and jobs limits', async () => {
    const tenantId = randomUUID();
    const queue = `cli-cancel-${Date.now()}`;
    const pm = createPlatform({ addresses: platform.addresses }, { env: {} });
    const { job: waiting } = await pm.queue.enqueueJob({ tenantId, queue, task: 't' });
    const { job: running } = await pm.queue.enqueueJob({ tenantId, queue, task: 't', priority: 5 });
    const [claimed] = (await pm.queue.claimJobs({ tenantId, queue, workerId: 'cli-test', maxJobs: 1 })).jobs;
    expect(claimed.id).toBe(running!.id);
    const env = envFor(platform.addresses);
    const one = await cli(['jobs', 'cancel', '--tenant', tenantId, '--id', waiting!.id], env);
    expect(one.code).toBe(0);
    expect(one.stdout).toMatch(new RegExp(`\\n${waiting!.id}\\s+${queue}\\s+t\\s+cancelled\\s+0/5\\s+\\S+`));
    const refused = await cli(['jobs', 'cancel', '--tenant', tenantId, '--id', running!.id], env);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/^error: .*is running \(leased to cli-test\); set include_running.*\n$/);
    const forced = await cli(['jobs', 'cancel', '--tenant', tenantId, '--id', running!.id, '--running', '--json'], env);
    expect(JSON.parse(forced.stdout).job).toMatchObject({ id: running!.id, attempts: 1 });
    expect((await pm.queue.getJob({ tenantId, jobId: running!.id })).job!.status).toBe(queueV1.JobStatus.JOB_STATUS_CANCELLED);

    const set = await cli(['jobs', 'limit', '--tenant', tenantId, '--queue', queue, '--group', 'mailbox:7', '--max', '3'], env);
    expect(set).toMatchObject({ code: 0, stderr: '', stdout: `at most 3 running job(s) in group mailbox:7 of queue ${queue}\n` });
    const dflt = await cli(['jobs', 'limit', '--tenant', tenantId, '--queue', queue, '--max', '2'], env);
    expect(dflt.stdout).toBe(`at most 2 running job(s) in every group of queue ${queue} without its own limit\n`);
    const listed = await cli(['jobs', 'limits', '--tenant', tenantId], env);
    expect(listed.stdout).toMatch(/^queue\s+group\s+max running\s+updated\n/);
    expect(listed.stdout).toMatch(new RegExp(`\\n${queue}\\s+\\(every group\\)\\s+2\\s+\\S+\\s*\\n${queue}\\s+mailbox:7\\s+3\\s+\\S+`));
    const removed = await cli(['jobs', 'limit', '--tenant', tenantId, '--queue', queue, '--group', 'mailbox:7', '--max', '0', '--json'], env);
    expect(JSON.parse(removed.stdout).groupLimit).toMatchObject({ groupKey: 'mailbox:7', limit: 0 });
    expect((await pm.queue.listGroupLimits({ tenantId })).groupLimits.map((l) => l.groupKey)).toEqual(['']);
    // The platform's default for the queue: asked for by name, never by leaving --tenant out.
    const every = await cli(['jobs', 'limit', '--every-tenant', '--queue', queue, '--max', '4'], env);
    expect(every).toMatchObject({ code: 0, stderr: '', stdout: `at most 4 running job(s) in every group of queue ${queue}, in every tenant, without a limit of its tenant\n` });
    const everyListed = await cli(['jobs', 'limits', '--every-tenant', '--queue', queue, '--json'], env);
    expect(JSON.parse(everyListed.stdout).groupLimits).toMatchObject([{ queue, groupKey: '', limit: 4 }]);
    expect((await pm.queue.listGroupLimits({ tenantId: '', queue })).groupLimits.map((l) => l.limit)).toEqual([4]);
    expect((await cli(['jobs', 'limit', '--every-tenant', '--queue', queue, '--max', '0'], env)).code).toBe(0);
    expect((await pm.queue.listGroupLimits({ tenantId: '', queue })).groupLimits).toEqual([]);
    const both = await cli(['jobs', 'limit', '--every-tenant', '--tenant', tenantId, '--queue', queue, '--max', '4'], env);
    expect(both).toMatchObject({ code: 1, stderr: 'error: --tenant or --every-tenant, not both\n' });
    const noTenant = await cli(['jobs', 'limit', '--queue', queue, '--max', '4'], env);
    expect(noTenant).toMatchObject({ code: 1, stderr: 'error: --tenant is required\n' });
    pm.close();
    const notNumber = await cli(['jobs', 'limit', '--tenant', tenantId, '--queue', queue, '--max', 'many'], env);
    expect(notNumber).toMatchObject({ code: 1, stderr: 'error: --max must be a whole number (0 removes the setting), not many\n' });
    const tooMany = await cli(['jobs', 'limit', '--tenant', tenantId, '--queue', queue, '--max', '5000'], env);
    expect(tooMany.code).toBe(1);
    expect(tooMany.stderr).toMatch(/^error: limit: .*\n$/);
  });

  test('jobs retry queues a dead job again; schedules list, pause and resume; mistakes are one line', async () => {
    const tenantId = randomUUID();
    const pm = createPlatform({ addresses: platform.addresses }, { env: {} });
    const { job } = await pm.queue.enqueueJob({ tenantId, queue: 'send', task: 'campaign.send_step', maxAttempts: 1 });
    const [claimed] = (await pm.queue.claimJobs({ tenantId, queue: 'send', workerId: 'cli-test', maxJobs: 1 })).jobs;
    await pm.queue.failJob({ tenantId, jobId: claimed.id, workerId: 'cli-test', attempt: claimed.attempts, error: 'provider said no' });
    const { schedule } = await pm.queue.createSchedule({ tenantId, name: 'nightly', cron: '0 3 * * *', timeZone: 'Europe/Berlin', queue: 'digest', task: 'digest.send' });
    const env = envFor(platform.addresses);

    const retried = await cli(['jobs', 'retry', '--tenant', tenantId, '--id', job!.id], env);
    expect(retried).toMatchObject({ code: 0, stderr: '' });
    expect(retried.stdout).toMatch(new RegExp(`${job!.id}\\s+send\\s+campaign.send_step\\s+queued\\s+1/2`));
    expect((await pm.queue.getJob({ tenantId, jobId: job!.id })).job).toMatchObject({ status: queueV1.JobStatus.JOB_STATUS_QUEUED, maxAttempts: 2 });
    const again = await cli(['jobs', 'retry', '--tenant', tenantId, '--id', job!.id], env);
    expect(again.code).toBe(1);
    expect(again.stderr).toMatch(/^error: FAILED_PRECONDITION: .*\n$/);

    const list = await cli(['schedules', 'list', '--tenant', tenantId], env);
    expect(list.code).toBe(0);
    expect(list.stdout).toMatch(/^id\s+name\s+cron\s+time zone/);
    expect(list.stdout).toContain(`${schedule!.id}  nightly  0 3 * * *  Europe/Berlin  digest  digest.send`);
    const paused = await cli(['schedules', 'pause', '--tenant', tenantId, '--id', schedule!.id, '--json'], env);
    expect(JSON.parse(paused.stdout).schedule).toMatchObject({ id: schedule!.id, pausedAt: expect.any(String) });
    expect((await pm.queue.listSchedules({ tenantId })).schedules[0].pausedAt).toBeInstanceOf(Date);
    const resumed = await cli(['schedules', 'resume', '--tenant', tenantId, '--id', schedule!.id], env);
    expect(resumed.stdout).toMatch(new RegExp(`${schedule!.id}.*-$`, 'm')); // the paused column is empty again
    expect((await pm.queue.listSchedules({ tenantId })).schedules[0].pausedAt).toBeUndefined();
    expect(await cli(['schedules', 'pause', '--tenant', tenantId], env)).toMatchObject({ code: 1, stderr: 'error: --id is required\n' });
    const other = await cli(['schedules', 'pause', '--tenant', randomUUID(), '--id', schedule!.id], env);
    expect(other.stderr).toMatch(/^error: NOT_FOUND: /);
    pm.close();
  });
});

describe('tenants, campaigns, messages, metrics (metadata, content, analytics)', () => {
  let platform: Platform;
  beforeAll(async () => {
    platform = await startPlatform();
  });
  afterAll(() => platform?.stop());

  test('status, tenants create, campaigns list, metrics campaign', async () => {
    const env = envFor(platform.addresses);
    const status = await cli(['status'], env);
    expect(status.code).toBe(0);
    expect(status.stdout.match(/SERVING/g)).toHaveLength(4);
    const created = await cli(['tenants', 'create', '--name', 'Acme', '--json'], env);
    expect(created.code).toBe(0);
    const tenant = JSON.parse(created.stdout);
    expect(tenant).toMatchObject({ name: 'Acme' });
    const pm = createPlatform({ addresses: platform.addresses }, { env: {} });
    const { campaign } = await pm.metadata.createCampaign({ tenantId: tenant.id, name: 'Spring' });
    pm.close();
    const list = await cli(['campaigns', 'list', '--tenant', tenant.id], env);
    expect(list.stdout).toContain(`${campaign!.id}  Spring  draft`);
    const metrics = await cli(['metrics', 'campaign', '--tenant', tenant.id, '--id', campaign!.id], env);
    expect(metrics.code).toBe(0);
    expect(metrics.stdout).toMatch(/sent\s+0/);
  });

  test('message show: ref, body and thread (needs IngestMessage)', async () => {
    const pm = createPlatform({ addresses: platform.addresses }, { env: {} });
    const tenantId = (await pm.metadata.createTenant({ name: 'Msg' })).tenant!.id;
    const mailbox = (await pm.metadata.createEmailAccount({ tenantId, email: 's@acme.test', provider: 3 })).emailAccount!.id;
    const sent = await pm.sendMessage({ tenantId, message: { emailAccountId: mailbox, fromEmail: 's@acme.test', toEmail: 'l@example.com', subject: 'Hi' }, body: { contentText: 'Hello body' } });
    pm.close();
    const r = await cli(['message', 'show', '--tenant', tenantId, '--id', sent.message.id], envFor(platform.addresses));
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('Hello body');
    expect(r.stdout).toContain(`thread (root ${sent.message.id})`);
  });
});
