// Stopping `npm start` from outside: a signal to npm's pid alone (what a supervisor, a CI timeout
// or `docker stop` sends) must stop the launcher, its services and the servers it started, and
// end with one "stopped" line. The launcher is fixtures/fake-launcher.mjs: the real signal,
// supervision and server code with fake services, so no build or database is needed.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { FAKE_LAUNCHER, alive, until } from './fixtures/helpers.mjs';

const ROOT_PACKAGE = fileURLToPath(new URL('../../../package.json', import.meta.url));
const STOPPED = 'platform: stopped (4 services, postgres, nats)';

// npm settings of the `npm test` that runs us must not leak into the npm we start.
const cleanEnv = () => Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^npm_/i.test(k)));

/** Runs the fake launcher as `npm run fake` with the given script; resolves once all is up. */
async function startUnderNpm(script) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pm-signals-'));
  fs.writeFileSync(path.join(dir, 'package.json'), JSON.stringify({ name: 'fake', private: true, scripts: { fake: script } }));
  const npm = spawn('npm', ['run', '--silent', 'fake'], {
    cwd: dir,
    env: { ...cleanEnv(), PM_FAKE_DIR: dir, npm_config_update_notifier: 'false', npm_config_fund: 'false' },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true, // its own process group, so cleanup() can kill npm, sh and the launcher at once
  });
  return watch(npm, dir);
}

/** Collects output until the stream closes (the launcher holds it too, so this outlives npm). */
async function watch(child, dir) {
  running.push({ child, dir });
  let output = '';
  child.stdout.on('data', (d) => { output += d; });
  child.stderr.on('data', (d) => { output += d; });
  const closed = new Promise((resolve) => child.stdout.once('close', resolve));
  const pids = await until('the fake launcher to be ready', () => {
    const file = path.join(dir, 'launcher.json');
    return fs.existsSync(file) && JSON.parse(fs.readFileSync(file, 'utf8'));
  }, 15_000);
  const all = [pids.launcher, ...Object.values(pids.services), ...Object.values(pids.servers)];
  assert.equal(all.every(alive), true);
  return { child, dir, pids, all, closed, output: () => output };
}

async function assertAllGone(run, withinMs) {
  await until('every process to be gone', () => !run.all.some(alive), withinMs);
  await Promise.race([run.closed, new Promise((r) => setTimeout(r, 2000))]);
  const lines = run.output().trim().split('\n');
  assert.equal(lines.at(-1), STOPPED, run.output());
  assert.equal(lines.filter((l) => l === STOPPED).length, 1);
}

/**
 * Leaves nothing behind when a test failed halfway: npm's process group (npm, sh, launcher), then
 * every fake service and server that wrote a ready marker (they run in their own groups).
 */
const running = [];
function cleanup() {
  const kill = (pid) => { try { process.kill(pid, 'SIGKILL'); } catch { /* gone */ } };
  for (const { child, dir } of running.splice(0)) {
    if (child.exitCode === null && child.signalCode === null) kill(-child.pid);
    kill(child.pid);
    for (const file of fs.existsSync(dir) ? fs.readdirSync(dir) : []) {
      const pid = Number(/\.(\d+)\.ready$/.exec(file)?.[1]);
      if (pid) kill(pid);
    }
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

test('npm start execs the launcher, so npm forwards its signals to it', () => {
  const { scripts } = JSON.parse(fs.readFileSync(ROOT_PACKAGE, 'utf8'));
  assert.equal(scripts.start, 'exec node scripts/platform.mjs start');
});

for (const signal of ['SIGTERM', 'SIGINT']) {
  test(`${signal} to npm's pid alone stops services, servers and launcher`, { timeout: 25_000 }, async () => {
    try {
      const run = await startUnderNpm(`exec node ${JSON.stringify(FAKE_LAUNCHER)}`);
      run.child.kill(signal);
      await assertAllGone(run, 8000);
      assert.match(run.output(), new RegExp(`got ${signal}: stopping the services`));
    } finally {
      cleanup();
    }
  });
}

test('without exec (npm -> sh -c -> node), SIGTERM to npm still stops everything: the launcher sees its parent go', { timeout: 25_000 }, async () => {
  try {
    const run = await startUnderNpm(`node ${JSON.stringify(FAKE_LAUNCHER)}`);
    run.child.kill('SIGTERM'); // sh dies of it and does not pass it on
    await assertAllGone(run, 8000);
    assert.match(run.output(), /the launcher's parent \(pid \d+\) exited: stopping the services/);
  } finally {
    cleanup();
  }
});

test('a launcher killed with SIGKILL leaves no service running (the servers stay, for the next start)', { timeout: 25_000 }, async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pm-signals-'));
  try {
    const launcher = spawn(process.execPath, [FAKE_LAUNCHER], { env: { ...process.env, PM_FAKE_DIR: dir }, stdio: ['ignore', 'pipe', 'pipe'] });
    const run = await watch(launcher, dir);
    launcher.kill('SIGKILL');
    const services = Object.values(run.pids.services);
    await until('the orphaned services to stop themselves', () => !services.some(alive), 5000);
    // Like the embedded PostgreSQL and nats-server, the fake servers outlive a SIGKILLed launcher.
    assert.equal(Object.values(run.pids.servers).every(alive), true);
  } finally {
    cleanup();
  }
});
