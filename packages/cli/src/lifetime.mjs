// How the launcher learns that it should stop: a signal, or its parent going away.
//
// `npm start` runs `exec node scripts/platform.mjs start` (root package.json): npm forwards
// SIGINT and SIGTERM to its child, and `exec` makes the launcher that child. Without it npm's
// child is `sh -c` (dash does not exec the last command), which dies of a SIGTERM without passing
// it on (the launcher is orphaned) and holds a SIGINT until its child exits (never). The parent
// watch below covers what no signal reaches: npm or the shell killed with SIGKILL, a shell
// without `exec`, a supervisor that signals only the process it started.
import { stopInfra } from './infra.mjs';
import { activeChildren } from './setup.mjs';

const PARENT_POLL_MS = 500;
// A Ctrl-C in a terminal reaches the launcher twice: from the terminal (same process group as
// npm) and again through npm, which forwards it. One keypress must not count as two.
const SAME_SIGNAL_MS = 1000;
// The foreground tools (pnpm, turbo) get a terminal's Ctrl-C themselves; a SIGINT sent to us
// alone does not reach them, so if they are still running after this we stop them.
const SIGINT_PASS_ON_MS = 2000;

/**
 * Installs the handlers. A command may take stop requests over with `hooks.onSignal(fn)`
 * (start stops its services first); `fn` gets a reason such as "got SIGTERM". Otherwise a
 * request stops the foreground tools, and the servers we started once they have exited.
 *
 * @returns {{ onSignal: (fn: (reason: string) => void) => void }}
 */
export function installSignalHandlers({ parentPollMs = PARENT_POLL_MS } = {}) {
  let handler = null;
  let last = { signal: null, at: 0 };

  const request = (signal, reason) => {
    const now = Date.now();
    if (signal === last.signal && now - last.at < SAME_SIGNAL_MS) return;
    last = { signal, at: now };
    if (handler) return handler(reason);
    if (activeChildren.size === 0) {
      // Nothing in the foreground to wind down (e.g. a server is starting): stop ours and leave.
      stopInfra().finally(() => process.exit(130));
      return;
    }
    const passOn = (sig) => { for (const child of activeChildren) child.kill(sig); };
    if (signal !== 'SIGINT') passOn(signal);
    else setTimeout(() => passOn('SIGTERM'), SIGINT_PASS_ON_MS).unref();
  };

  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP']) process.on(signal, () => request(signal, `got ${signal}`));

  // Whoever started us is gone (we were reparented): nobody will send us a signal any more.
  const parent = process.ppid;
  const watch = setInterval(() => {
    if (process.ppid === parent) return;
    clearInterval(watch);
    request('SIGHUP', `the launcher's parent (pid ${parent}) exited`);
  }, parentPollMs);
  watch.unref();

  // With the parent gone, our stdout may be a pipe nobody reads: a failed write must not crash
  // the launcher halfway through stopping everything.
  for (const stream of [process.stdout, process.stderr]) stream.on('error', () => {});

  return { onSignal: (fn) => { handler = fn; } };
}
