// `.data/stack.json`: where the services of a running `npm start` listen, so `npm run status`
// and the SDK's CLI (packages/sdk/bin/penguinmails.mjs) find them on whatever ports they got.
// Written once every service is SERVING, removed when the launcher stops. A launcher killed with
// SIGKILL leaves it behind: readers check that its pid is alive and ignore it otherwise.
// Node built-ins only (the launcher imports this before the install step).
//
// { "version": 1, "pid": <launcher pid>, "started": "<ISO time>", "services": { "metadata": "127.0.0.1:50051", ... } }
import fs from 'node:fs';
import path from 'node:path';

export const STACK_FILE_VERSION = 1;

/** Writes the file atomically (a reader never sees half of it). */
export function writeStackFile(file, { pid = process.pid, started = new Date(), services }) {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  const tmp = `${file}.${process.pid}.tmp`;
  const body = { version: STACK_FILE_VERSION, pid, started: started.toISOString(), services };
  fs.writeFileSync(tmp, JSON.stringify(body, null, 2) + '\n');
  fs.renameSync(tmp, file);
  return body;
}

/** Removes the file if it is this launcher's (another launcher's file is left alone). */
export function removeStackFile(file, pid = process.pid) {
  try {
    const current = JSON.parse(fs.readFileSync(file, 'utf8'));
    if (current.pid !== pid) return false;
  } catch {
    return false;
  }
  fs.rmSync(file, { force: true });
  return true;
}

/** True when a process with this pid exists (EPERM: it exists but belongs to someone else). */
export function pidAlive(pid) {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return err.code === 'EPERM';
  }
}

/**
 * { state: 'none' } when there is no file, { state: 'stale', reason } when it cannot be used (its
 * launcher is gone, it is unreadable), { state: 'live', stack } otherwise.
 */
export function readStackFile(file, names, isAlive = pidAlive) {
  let raw;
  try {
    raw = fs.readFileSync(file, 'utf8');
  } catch {
    return { state: 'none' };
  }
  let stack;
  try {
    stack = JSON.parse(raw);
  } catch {
    return { state: 'stale', reason: 'it is not valid JSON' };
  }
  if (!stack || typeof stack.pid !== 'number' || typeof stack.services !== 'object' || stack.services === null) {
    return { state: 'stale', reason: 'it has no pid or services' };
  }
  if (!names.every((n) => typeof stack.services[n] === 'string')) return { state: 'stale', reason: 'it does not name every service' };
  if (!isAlive(stack.pid)) return { state: 'stale', reason: `its launcher (pid ${stack.pid}) is not running` };
  return { state: 'live', stack };
}

/**
 * The address of each service, and a note saying where they came from. An explicit port setting
 * (PM_<SERVICE>_PORT) wins; then a live stack file; the default ports only when there is no
 * usable stack file.
 *
 * @param {{ services: { name: string, portEnv: string, defaultPort: number }[], discovery: object, env: object, host: string, portFromEnv: Function }} args
 */
export function resolveAddresses({ services, discovery, env, host, portFromEnv }) {
  const addresses = {};
  for (const s of services) {
    if (env[s.portEnv]) addresses[s.name] = `${host}:${portFromEnv(s.portEnv, s.defaultPort)}`;
    else if (discovery.state === 'live') addresses[s.name] = discovery.stack.services[s.name];
    else addresses[s.name] = `${host}:${s.defaultPort}`;
  }
  let note;
  if (discovery.state === 'live') note = `from .data/stack.json (npm start, pid ${discovery.stack.pid}, started ${discovery.stack.started})`;
  else if (discovery.state === 'stale') note = `ignoring .data/stack.json: ${discovery.reason}; trying the default ports`;
  else note = 'no .data/stack.json (npm start is not running here); trying the default ports';
  return { addresses, note };
}
