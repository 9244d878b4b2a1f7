import fs from 'node:fs';
import path from 'node:path';
import { SERVICE_NAMES, type ServiceName } from './settings';

/**
 * `.data/stack.json`, written by `npm start` (packages/cli/src/stack-file.mjs) once the four
 * services are SERVING and removed when it stops:
 * `{ "version": 1, "pid": <launcher pid>, "started": "<ISO time>", "services": { "metadata": "127.0.0.1:50051", ... } }`.
 */
export interface StackFile {
  version: number;
  pid: number;
  started: string;
  services: Record<ServiceName, string>;
}

export type StackDiscovery =
  | { state: 'none'; path: string }
  | { state: 'stale'; path: string; pid: number; reason: string }
  | { state: 'live'; path: string; stack: StackFile };

/** True when a process with this pid exists (EPERM: it exists but is not ours). */
export function pidAlive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** The repository's `.data/stack.json`: PM_STACK_FILE, else the first `.data/stack.json` up from `from`. */
export function findStackFile(from: string = process.cwd(), env: NodeJS.ProcessEnv = process.env): string | undefined {
  if (env.PM_STACK_FILE) return env.PM_STACK_FILE;
  let dir = path.resolve(from);
  for (;;) {
    const candidate = path.join(dir, '.data', 'stack.json');
    if (fs.existsSync(candidate)) return candidate;
    // The repository root ends the search (a stack file above it belongs to something else).
    if (fs.existsSync(path.join(dir, 'pnpm-workspace.yaml'))) return candidate;
    const parent = path.dirname(dir);
    if (parent === dir) return undefined;
    dir = parent;
  }
}

/** Reads a stack file: none, stale (unreadable, or its launcher is gone), or live. */
export function readStackFile(file: string, isAlive: (pid: number) => boolean = pidAlive): StackDiscovery {
  let raw: string;
  try {
    raw = fs.readFileSync(file, 'utf8');
  } catch {
    return { state: 'none', path: file };
  }
  let stack: StackFile;
  try {
    stack = JSON.parse(raw) as StackFile;
  } catch {
    return { state: 'stale', path: file, pid: 0, reason: 'it is not valid JSON' };
  }
  if (!stack || typeof stack.pid !== 'number' || typeof stack.services !== 'object' || stack.services === null)
    return { state: 'stale', path: file, pid: 0, reason: 'it has no pid or services' };
  if (!SERVICE_NAMES.every((s) => typeof stack.services[s] === 'string'))
    return { state: 'stale', path: file, pid: stack.pid, reason: 'it does not name all four services' };
  if (!isAlive(stack.pid)) return { state: 'stale', path: file, pid: stack.pid, reason: `its launcher (pid ${stack.pid}) is not running` };
  return { state: 'live', path: file, stack };
}
