// Preloaded into every service `npm start` runs (node --import, see children.mjs). The launcher
// stops its services itself on a signal, but a launcher killed with SIGKILL (or crashing) cannot:
// its services would keep their ports and run forever, reparented to init. So each service
// watches its parent: once that is no longer the launcher, it stops itself the way the launcher
// would have stopped it (SIGTERM, then SIGKILL if the graceful stop hangs).
// Node built-ins only, and nothing else happens here: the service's own code runs unchanged.
import { isMainThread } from 'node:worker_threads';

const POLL_MS = 1000;
const GRACE_MS = 15_000;

// Worker threads share the process; one watcher is enough.
if (isMainThread) {
  const launcher = process.ppid;
  const timer = setInterval(() => {
    // An orphan is reparented (to init or a subreaper), so its parent pid changes.
    if (process.ppid === launcher) return;
    clearInterval(timer);
    process.kill(process.pid, 'SIGTERM');
    setTimeout(() => process.kill(process.pid, 'SIGKILL'), GRACE_MS).unref();
  }, POLL_MS);
  // The watch must never be what keeps a service alive.
  timer.unref();
}
