// The supervisor behind `npm start`, driven with fake services (fixtures/fake-service.mjs) through
// the same startService path as the real ones.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Supervisor, backoffDelay, runServices, stoppedLine, BACKOFF } from '../src/supervisor.mjs';
import { UserError } from '../src/errors.mjs';
import { alive, until, fakeSpec, markerReady, readyPids } from './fixtures/helpers.mjs';

const tempDir = () => fs.mkdtempSync(path.join(os.tmpdir(), 'pm-supervisor-'));

test('backoff: 0.5 s doubling to a 30 s cap', () => {
  assert.deepEqual([0, 1, 2, 3, 5, 6, 20].map((n) => backoffDelay(n)), [500, 1000, 2000, 4000, 16_000, 30_000, 30_000]);
  assert.equal(BACKOFF.resetAfterMs, 60_000);
  assert.equal(stoppedLine(4, ['postgres', 'nats']), 'stopped (4 services, postgres, nats)');
  assert.equal(stoppedLine(4, []), 'stopped (4 services)');
});

test('a service killed with SIGKILL is restarted with backoff; its siblings are untouched', { timeout: 20_000 }, async () => {
  const dir = tempDir();
  const lines = [];
  const backoff = { initialMs: 100, maxMs: 400, resetAfterMs: 60_000 };
  const supervisor = new Supervisor(['a', 'b', 'c'].map((n, i) => fakeSpec(dir, n, i)), { backoff, log: (l) => lines.push(l) });
  try {
    const ready = markerReady(dir);
    await Promise.all(supervisor.services.map((s) => ready(s, () => false)));
    supervisor.keepRunning();
    const [, b, c] = supervisor.services;

    const delays = [];
    for (const expected of [100, 200, 400, 400]) {
      const victim = supervisor.services[0];
      const before = readyPids(dir, 'a').length;
      const killedAt = Date.now();
      victim.child.kill('SIGKILL');
      await until('a restarted', () => readyPids(dir, 'a').length > before);
      const restarted = supervisor.services[0];
      assert.notEqual(restarted.child.pid, victim.child.pid);
      assert.equal(alive(restarted.child.pid), true);
      assert.ok(Date.now() - killedAt >= expected, `restart ${delays.length + 1} waited at least ${expected} ms`);
      delays.push(expected);
    }
    assert.deepEqual(lines, [
      'a was killed by SIGKILL; restarting it in 0.1 s (restart 1)',
      'a was killed by SIGKILL; restarting it in 0.2 s (restart 2)',
      'a was killed by SIGKILL; restarting it in 0.4 s (restart 3)',
      'a was killed by SIGKILL; restarting it in 0.4 s (restart 4)',
    ]);
    // The siblings: same processes, never stopped, never restarted.
    assert.equal(supervisor.services[1], b);
    assert.equal(supervisor.services[2], c);
    for (const s of [b, c]) {
      assert.equal(s.exit, null);
      assert.equal(alive(s.child.pid), true);
      assert.equal(readyPids(dir, s.name).length, 1);
    }
  } finally {
    await supervisor.stop(2000);
  }
  // Stopping is final: no restart afterwards.
  const count = lines.length;
  await new Promise((r) => setTimeout(r, 300));
  assert.equal(lines.length, count);
  for (const s of supervisor.services) assert.equal(alive(s.child.pid), false);
  fs.rmSync(dir, { recursive: true, force: true });
});

test('a service that stayed up for resetAfterMs restarts after the initial delay again', { timeout: 10_000 }, async () => {
  const dir = tempDir();
  const lines = [];
  const supervisor = new Supervisor([fakeSpec(dir, 'a', 0)], { backoff: { initialMs: 100, maxMs: 1000, resetAfterMs: 400 }, log: (l) => lines.push(l) });
  try {
    supervisor.keepRunning();
    for (let i = 0; i < 3; i++) {
      await until('a ready', () => readyPids(dir, 'a').length > i);
      supervisor.services[0].child.kill('SIGKILL');
    }
    await until('a ready', () => readyPids(dir, 'a').length > 3);
    await new Promise((r) => setTimeout(r, 500)); // longer than resetAfterMs
    supervisor.services[0].child.kill('SIGKILL');
    await until('a ready', () => readyPids(dir, 'a').length > 4);
    assert.deepEqual(lines.map((l) => /in (\S+) s/.exec(l)[1]), ['0.1', '0.2', '0.4', '0.1']);
  } finally {
    await supervisor.stop(2000);
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('a service that exits before it is ready fails the start and the others are stopped', { timeout: 10_000 }, async () => {
  const dir = tempDir();
  const lines = [];
  let onSignal;
  const specs = [fakeSpec(dir, 'good', 0), fakeSpec(dir, 'bad', 1, { PM_FAKE_EXIT: '3' })];
  let started;
  await assert.rejects(
    runServices({
      specs,
      hooks: { onSignal: (fn) => { onSignal = fn; } },
      waitReady: (s, gaveUp) => { started ??= s; return markerReady(dir)(s, gaveUp); },
      readyTimeoutMs: 5000,
      log: (l) => lines.push(l),
    }),
    (e) => e instanceof UserError && e.message === 'service bad exited with code 3 before it was ready; see its output above',
  );
  assert.equal(typeof onSignal, 'function');
  assert.equal(started.name, 'good');
  assert.equal(alive(started.child.pid), false);
  assert.equal(readyPids(dir, 'bad').length, 0);
  assert.match(lines.at(-1), /^service bad exited with code 3 before it was ready.*: stopping the services$/);
  fs.rmSync(dir, { recursive: true, force: true });
});
