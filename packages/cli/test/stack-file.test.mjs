// .data/stack.json: written by npm start, read by npm run status and the SDK's CLI.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawn } from 'node:child_process';
import { readStackFile, removeStackFile, resolveAddresses, writeStackFile, pidAlive } from '../src/stack-file.mjs';
import { SERVICES } from '../src/services.mjs';
import { portFromEnv } from '../src/net.mjs';

const NAMES = SERVICES.map((s) => s.name);
const ADDRS = { metadata: '127.0.0.1:6001', content: '127.0.0.1:6002', queue: '127.0.0.1:6003', analytics: '127.0.0.1:6004' };
const tmpFile = () => path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'pm-stack-')), '.data', 'stack.json');

test('written with the pid, start time and addresses; read back as live while the pid lives', () => {
  const file = tmpFile();
  writeStackFile(file, { services: ADDRS, started: new Date('2030-01-02T03:04:05Z') });
  const d = readStackFile(file, NAMES);
  assert.equal(d.state, 'live');
  assert.deepEqual(d.stack, { version: 1, pid: process.pid, started: '2030-01-02T03:04:05.000Z', services: ADDRS });
  const { addresses, note } = resolveAddresses({ services: SERVICES, discovery: d, env: {}, host: '127.0.0.1', portFromEnv });
  assert.deepEqual(addresses, ADDRS);
  assert.match(note, /from \.data\/stack\.json \(npm start, pid \d+/);
});

test('a file whose launcher is gone is stale: ignored, said so, and the default ports are tried', async () => {
  const child = spawn(process.execPath, ['-e', '0']);
  await new Promise((r) => child.on('exit', r));
  const file = tmpFile();
  writeStackFile(file, { pid: child.pid, services: ADDRS });
  assert.equal(pidAlive(child.pid), false);
  const d = readStackFile(file, NAMES);
  assert.deepEqual(d, { state: 'stale', reason: `its launcher (pid ${child.pid}) is not running` });
  const { addresses, note } = resolveAddresses({ services: SERVICES, discovery: d, env: {}, host: '127.0.0.1', portFromEnv });
  assert.equal(addresses.metadata, '127.0.0.1:50051');
  assert.equal(addresses.analytics, '127.0.0.1:50054');
  assert.match(note, /^ignoring \.data\/stack\.json: its launcher \(pid \d+\) is not running; trying the default ports$/);
});

test('no file: the default ports; broken or incomplete files are stale', () => {
  const file = tmpFile();
  assert.deepEqual(readStackFile(file, NAMES), { state: 'none' });
  const { addresses, note } = resolveAddresses({ services: SERVICES, discovery: { state: 'none' }, env: {}, host: '127.0.0.1', portFromEnv });
  assert.equal(addresses.queue, '127.0.0.1:50053');
  assert.match(note, /no \.data\/stack\.json/);
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, '{ not json');
  assert.equal(readStackFile(file, NAMES).state, 'stale');
  fs.writeFileSync(file, JSON.stringify({ pid: process.pid, services: { metadata: 'x:1' } }));
  assert.deepEqual(readStackFile(file, NAMES), { state: 'stale', reason: 'it does not name every service' });
});

test('an explicit PM_<SERVICE>_PORT wins over the stack file', () => {
  const discovery = { state: 'live', stack: { pid: process.pid, started: 'now', services: ADDRS } };
  const { addresses } = resolveAddresses({ services: SERVICES, discovery, env: { PM_QUEUE_PORT: '7003' }, host: '127.0.0.1', portFromEnv: (name, d) => (name === 'PM_QUEUE_PORT' ? 7003 : d) });
  assert.equal(addresses.queue, '127.0.0.1:7003');
  assert.equal(addresses.metadata, ADDRS.metadata);
});

test('removed on stop only by the launcher that wrote it', () => {
  const file = tmpFile();
  writeStackFile(file, { pid: 999_999_999, services: ADDRS });
  assert.equal(removeStackFile(file), false);
  assert.ok(fs.existsSync(file));
  writeStackFile(file, { services: ADDRS });
  assert.equal(removeStackFile(file), true);
  assert.ok(!fs.existsSync(file));
  assert.equal(removeStackFile(file), false); // already gone: fine
});

test('the launcher modules stay free of non-built-in imports at load time', () => {
  const src = fs.readFileSync(new URL('../src/stack-file.mjs', import.meta.url), 'utf8');
  const imports = [...src.matchAll(/^import .* from '([^']+)';$/gm)].map((m) => m[1]);
  assert.deepEqual(imports.filter((m) => !m.startsWith('node:') && !m.startsWith('.')), []);
});
