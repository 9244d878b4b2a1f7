import { AsyncLocalStorage } from 'node:async_hooks';

/**
 * The deadline of the gRPC call being served, visible to the store code below its handler
 * without threading it through every domain function. The kit's server runs each handler in
 * one; `withTransaction` and the ClickHouse helpers read it, so a caller who stops waiting
 * also stops the database work (a statement timeout, no commit after the deadline).
 */
export interface CallScope {
  deadline: Date;
  signal: AbortSignal;
}

const storage = new AsyncLocalStorage<CallScope>();

export function runInCallScope<T>(scope: CallScope, fn: () => Promise<T>): Promise<T> {
  return storage.run(scope, fn);
}

/** The scope of the call being served, or undefined outside a call (relays, sweepers, tests). */
export function currentCall(): CallScope | undefined {
  return storage.getStore();
}

/** Milliseconds left before the current call's deadline (undefined outside a call; may be ≤ 0). */
export function remainingMs(): number | undefined {
  const scope = storage.getStore();
  return scope ? scope.deadline.getTime() - Date.now() : undefined;
}
