// Keeps the services of `npm start` running: a service that exits on its own while the platform
// runs is started again after an exponential backoff, and its siblings are left alone. Only a
// stop request (a signal, the launcher's parent going away) stops them all.
//
// Kept apart from commands/start.mjs so the tests can drive it with small fake services: readiness
// is a function the caller passes (start.mjs asks gRPC health; the tests watch for a marker).
import { startService, stopServices } from './children.mjs';
import { UserError } from './errors.mjs';
import { say } from './log.mjs';

/**
 * 0.5 s doubling to 30 s. A service that stayed up for `resetAfterMs` before it exited is treated
 * as healthy again: its next restart waits `initialMs`, not the delay of an old crash loop.
 */
export const BACKOFF = Object.freeze({ initialMs: 500, maxMs: 30_000, resetAfterMs: 60_000 });

/** The delay before restart number `attempt` (0 for the first restart after a healthy run). */
export function backoffDelay(attempt, backoff = BACKOFF) {
  return Math.min(backoff.initialMs * 2 ** attempt, backoff.maxMs);
}

export function describeExit(exit) {
  if (exit.err) return `could not start: ${exit.err.message}`;
  return exit.signal ? `was killed by ${exit.signal}` : `exited with code ${exit.code}`;
}

const seconds = (ms) => `${Number((ms / 1000).toFixed(1))} s`;

/**
 * Runs one child per spec (the options of children.mjs startService). Restarts are off until
 * `keepRunning()`: during start-up an exit is a failure the caller reports (a service that cannot
 * get to SERVING once would only crash-loop), afterwards it is restarted.
 */
export class Supervisor {
  /**
   * @param {object[]} specs startService options, one per service
   * @param {{ backoff?: typeof BACKOFF, log?: (line: string) => void, spawn?: typeof startService }} [options]
   */
  constructor(specs, { backoff = BACKOFF, log = say, spawn = startService } = {}) {
    this.backoff = backoff;
    this.log = log;
    this.spawn = spawn;
    this.restarting = false;
    this.stopping = false;
    this.slots = specs.map((spec) => ({ spec, service: null, attempt: 0, startedAt: 0, timer: null, restarts: 0 }));
    for (const slot of this.slots) this.#launch(slot);
  }

  /** The current process of each service (a restarted service is a new object). */
  get services() {
    return this.slots.map((slot) => slot.service);
  }

  /** Restarts from now on (call once every service is ready). */
  keepRunning() {
    this.restarting = true;
  }

  #launch(slot) {
    slot.timer = null;
    slot.startedAt = Date.now();
    const service = this.spawn(slot.spec);
    slot.service = service;
    service.exited.then(() => this.#onExit(slot, service));
  }

  #onExit(slot, service) {
    if (this.stopping || !this.restarting || slot.service !== service) return;
    // A run longer than resetAfterMs means the earlier crashes are history: start the backoff over.
    if (Date.now() - slot.startedAt >= this.backoff.resetAfterMs) slot.attempt = 0;
    const delay = backoffDelay(slot.attempt, this.backoff);
    slot.attempt += 1;
    slot.restarts += 1;
    // One line per restart; the service's own output (prefixed with its name) says why.
    this.log(`${slot.spec.name} ${describeExit(service.exit)}; restarting it in ${seconds(delay)} (restart ${slot.restarts})`);
    slot.timer = setTimeout(() => this.#launch(slot), delay);
  }

  /** Cancels pending restarts, SIGTERM to every running service, SIGKILL after `graceMs`. */
  async stop(graceMs) {
    this.stopping = true;
    for (const slot of this.slots) clearTimeout(slot.timer);
    await stopServices(this.services, graceMs);
  }

  /** A second stop request does not wait for the grace period. */
  kill() {
    this.stopping = true;
    for (const slot of this.slots) {
      clearTimeout(slot.timer);
      if (!slot.service.exit) slot.service.child.kill('SIGKILL');
    }
  }
}

/**
 * Starts the services, waits until each is ready, then keeps them running until `hooks.onSignal`
 * delivers a stop request, and stops them. Returns the reason it stopped.
 * Throws (after stopping the others) when a service exits or is not ready during start-up.
 *
 * @param {{
 *   specs: object[],
 *   hooks: { onSignal: (handler: (reason: string) => void) => void },
 *   waitReady: (service: object, gaveUp: () => boolean) => Promise<boolean>,
 *   readyTimeoutMs: number,
 *   readiness?: string,
 *   onReady?: () => Promise<void> | void,
 *   backoff?: typeof BACKOFF,
 *   graceMs?: number,
 *   log?: (line: string) => void,
 * }} options
 */
export async function runServices({ specs, hooks, waitReady, readyTimeoutMs, readiness = 'ready', onReady = () => {}, backoff, graceMs = 10_000, log = say }) {
  const supervisor = new Supervisor(specs, { backoff, log });

  // The first request starts a graceful stop; a second one (another Ctrl-C) does not wait.
  let stopReason = null;
  let onStopRequest;
  const stopRequested = new Promise((resolve) => { onStopRequest = resolve; });
  hooks.onSignal((reason) => {
    if (stopReason) return supervisor.kill();
    stopReason = reason;
    onStopRequest(reason);
  });

  try {
    const deadline = Date.now() + readyTimeoutMs;
    const starting = supervisor.services;
    // Any exit during start-up fails it, so nobody waits for the others to become ready first.
    const gaveUp = () => Boolean(stopReason) || starting.some((s) => s.exit) || Date.now() > deadline;
    const ready = await Promise.all(starting.map((s) => waitReady(s, gaveUp)));
    const failure = stopReason ? null : readinessFailure(starting, ready, `did not report ${readiness} within ${readyTimeoutMs / 1000} s`);
    if (stopReason || failure) {
      log(`${stopReason ?? failure}: stopping the services`);
      await supervisor.stop(graceMs);
      if (failure) throw new UserError(failure);
      return stopReason;
    }

    supervisor.keepRunning();
    await onReady();
    const reason = await stopRequested;
    log(`${reason}: stopping the services`);
    await supervisor.stop(graceMs);
    return reason;
  } finally {
    await supervisor.stop(graceMs); // a no-op unless something above threw
  }
}

function readinessFailure(services, ready, tooSlow) {
  const died = services.find((s) => s.exit);
  if (died) return `service ${died.name} ${describeExit(died.exit)} before it was ready; see its output above`;
  const slow = services.find((_, i) => !ready[i]);
  if (slow) return `service ${slow.name} ${tooSlow}`;
  return null;
}

/** The last line of `npm start`: what was stopped, e.g. "stopped (4 services, postgres, nats)". */
export function stoppedLine(serviceCount, servers) {
  const parts = [`${serviceCount} service${serviceCount === 1 ? '' : 's'}`, ...servers];
  return `stopped (${parts.join(', ')})`;
}
