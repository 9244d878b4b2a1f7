import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { summarise, readResults } from '../src/results.mjs';
import { parseUrl, portFromEnv, requireFreePort, tcpAnswers } from '../src/net.mjs';
import { UserError } from '../src/errors.mjs';
import { redact } from '../src/log.mjs';

test('summary: all packages pass', () => {
  const s = summarise([{ package: 'a', passed: 3, failed: 0, skipped: 1, suitesFailed: 0 }], new Map([['a', 0]]));
  assert.deepEqual(s.total, { passed: 3, failed: 0, skipped: 1 });
  assert.equal(s.ok, true);
});

test('summary: a package that failed without results counts as one failure', () => {
  const s = summarise([{ package: 'a', passed: 3, failed: 0, skipped: 0, suitesFailed: 0 }], new Map([['a', 0], ['b', 1], ['c', null]]));
  assert.deepEqual(s.total, { passed: 3, failed: 2, skipped: 0 });
  assert.equal(s.ok, false);
  assert.match(s.rows.find((r) => r.package === 'c').note, /did not run/);
});

test('summary: non-zero exit with no failed test still fails; nothing passed fails', () => {
  const s = summarise([{ package: 'a', passed: 2, failed: 0, skipped: 0, suitesFailed: 0 }], new Map([['a', 1]]));
  assert.equal(s.total.failed, 1);
  assert.equal(summarise([], new Map()).ok, false);
});

test('summary: a failed lint is one failed row, after the packages; a clean one adds nothing', () => {
  const results = [{ package: 'a', passed: 3, failed: 0, skipped: 0, suitesFailed: 0 }];
  const failed = summarise(results, new Map([['a', 0]]), [{ package: 'lint', passed: 0, failed: 1, skipped: 0, note: 'failed: a' }]);
  assert.deepEqual(failed.total, { passed: 3, failed: 1, skipped: 0 });
  assert.equal(failed.ok, false);
  assert.equal(failed.rows.at(-1).package, 'lint');
  const clean = summarise(results, new Map([['a', 0]]), [{ package: 'lint', passed: 0, failed: 0, skipped: 0, note: 'clean' }]);
  assert.deepEqual(clean.total, { passed: 3, failed: 0, skipped: 0 });
  assert.equal(clean.ok, true);
});

test('results files are read, and an unreadable one is a failure', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pm-results-'));
  fs.writeFileSync(path.join(dir, 'a.json'), JSON.stringify({ package: 'a', passed: 5, failed: 1, skipped: 0, suitesFailed: 1 }));
  fs.writeFileSync(path.join(dir, 'b.json'), '{not json');
  const rows = readResults(dir);
  assert.deepEqual(rows.map((r) => [r.package, r.passed, r.failed]), [['a', 5, 1], ['b.json', 0, 1]]);
  fs.rmSync(dir, { recursive: true });
});

test('a bad URL or port setting is one UserError line naming the variable', () => {
  assert.throws(() => parseUrl('localhost:4222', 'NATS_URL', ['nats:']), (e) => e instanceof UserError && /NATS_URL must start with nats:\/\//.test(e.message));
  assert.throws(() => parseUrl('::', 'PM_POSTGRES_URL', ['postgres:']), (e) => e instanceof UserError && /PM_POSTGRES_URL is not a valid URL/.test(e.message));
  process.env.PM_TEST_PORT = '99999';
  assert.throws(() => portFromEnv('PM_TEST_PORT', 1), (e) => e instanceof UserError && /PM_TEST_PORT=99999 is not a port number/.test(e.message));
  delete process.env.PM_TEST_PORT;
  assert.equal(portFromEnv('PM_TEST_PORT', 50051), 50051);
});

test('a port in use is reported with the variable that changes it', async () => {
  const server = net.createServer().listen(0, '127.0.0.1');
  await new Promise((r) => server.once('listening', r));
  const { port } = server.address();
  await assert.rejects(requireFreePort(port, 'the content service', 'PM_CONTENT_PORT'), (e) => e instanceof UserError && e.message.includes(`port ${port}`) && e.message.includes('PM_CONTENT_PORT'));
  assert.equal(await tcpAnswers('127.0.0.1', port), true);
  server.close();
});

test('passwords never reach the output', () => {
  assert.equal(redact('postgres://u:secret@h:5432/db').includes('secret'), false);
  assert.equal(redact('nats://secret-token@h:4222'), 'nats://***@h:4222');
  assert.equal(redact('postgres//u:secret@h/db').includes('secret'), false);
  assert.throws(() => parseUrl('postgres//u:secret@h/db', 'PM_POSTGRES_URL', ['postgres:']), (e) => e instanceof UserError && !e.message.includes('secret'));
});

test('npm test arguments: names become turbo filters; what follows `--` reaches jest, not the lint', async () => {
  const { filterArgs, lintArgs } = await import('../src/commands/test.mjs');
  const args = ['queue', '@penguinmails/sdk', '--', '--testPathPatterns=fuzz\\.test'];
  assert.deepEqual(filterArgs(args), ['--filter=@penguinmails/queue', '--filter=@penguinmails/sdk', '--', '--testPathPatterns=fuzz\\.test']);
  assert.deepEqual(lintArgs(args), ['--filter=@penguinmails/queue', '--filter=@penguinmails/sdk']);
  assert.deepEqual(lintArgs(['metadata']), ['--filter=@penguinmails/metadata']);
  assert.deepEqual(lintArgs([]), []);
});
