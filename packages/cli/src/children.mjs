// The services started by `npm start`: spawned with prefixed output, stopped together.
import { spawn } from 'node:child_process';
import { prefixOutput } from './log.mjs';

// A file: URL, not a path: --import takes a module specifier (a Windows path would not parse).
const ORPHAN_GUARD = new URL('./orphan-guard.mjs', import.meta.url).href;

/**
 * Starts `node <entry>` with `env`. Each gets its own process group (detached) so a Ctrl-C in
 * the terminal reaches only the launcher, which then stops them in order (services, then servers).
 * Being detached, a service would outlive a launcher killed with SIGKILL; the preloaded
 * orphan-guard.mjs makes it stop itself then.
 */
export function startService({ name, entry, cwd, env, width, index, args = [] }) {
  const child = spawn(process.execPath, ['--import', ORPHAN_GUARD, entry, ...args], { cwd, env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  prefixOutput(child, name, width, index);
  const service = { name, child, exit: null };
  service.exited = new Promise((resolve) => {
    child.on('exit', (code, signal) => { service.exit = { code, signal }; resolve(service); });
    child.on('error', (err) => { service.exit = { code: null, signal: null, err }; resolve(service); });
  });
  return service;
}

/** SIGTERM to every running service; SIGKILL to any still running after `graceMs`. */
export async function stopServices(services, graceMs = 10_000) {
  const running = services.filter((s) => !s.exit);
  for (const s of running) s.child.kill('SIGTERM');
  const timer = setTimeout(() => { for (const s of running) if (!s.exit) s.child.kill('SIGKILL'); }, graceMs);
  await Promise.all(running.map((s) => s.exited));
  clearTimeout(timer);
}
