// The `penguinmails` CLI (bin/penguinmails.mjs, over the built dist/) as a user runs it.
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import { startPlatform, type Platform } from '@penguinmails/testkit';
import { createPlatform } from '../src';

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

describe('jobs (queue)', () => {
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
