import { contentV1 } from '@penguinmails/contracts';
import { PeriodicTask, defaultMetrics, withTransaction, type EventNames, type Logger } from '@penguinmails/service-kit';
import type { Pool, PoolClient } from 'pg';
import { deleteContentKeys } from '../db/delete-content-keys';
import { deleteExpiredContent } from '../db/delete-expired-content';
import { deleteExpiredNotifications } from '../db/delete-expired-notifications';
import { deleteStaleUploadParts } from '../db/delete-stale-upload-parts';
import { lockAgedCandidates } from '../db/lock-aged-candidates';
import { lockExpiredCandidates } from '../db/lock-expired-candidates';
import { lockOldestCandidates } from '../db/lock-oldest-candidates';
import type { PurgeCandidate } from '../db/rows';
import { tenantsOverBudget } from '../db/tenants-over-budget';
import { tryLockTenantBudget } from '../db/try-lock-tenant-budget';
import { emitContentDeleted } from './events';

/**
 * Deletes expired objects (up to `limit`, oldest expiry first, or only `storageKey`) with their
 * ContentDeleted (EXPIRED) events, in the caller's transaction; resolves with how many.
 * PutContent uses it to free an expired key before reusing it.
 */
export async function deleteExpired(client: PoolClient, names: EventNames, opts: { limit: number; storageKey?: string }): Promise<number> {
  const deleted = await deleteExpiredContent(client, opts);
  await emitContentDeleted(client, names, deleted, contentV1.DeletionReason.DELETION_REASON_EXPIRED);
  return deleted.length;
}

/** The service-wide retention policy (settings), for tenants without their own values. */
export interface RetentionDefaults {
  /** CONTENT_RETENTION_MAX_AGE_DAYS; 0 = no age limit. */
  maxAgeDays: number;
  /** CONTENT_RETENTION_MAX_BYTES; 0 = no size budget. */
  maxTotalBytes: number;
}

/** What a sweep needs: the database and where its events go. */
export interface SweepDeps {
  pool: Pool;
  names: EventNames;
  logger?: Logger;
}

export interface SweepOptions {
  /** Objects per transaction at most (RETENTION_SWEEP_BATCH). */
  batchSize: number;
  /**
   * Logical bytes per transaction at most (CONTENT_SWEEP_BATCH_BYTES): a batch ends before the
   * object that would cross it, but always holds at least one object.
   */
  batchBytes: number;
  defaults: RetentionDefaults;
  /** Stop after this many transactions (a bench's bounded run); default: until nothing is left. */
  maxBatches?: number;
  /** Polled between transactions: true ends the sweep early (shutdown). */
  stopped?: () => boolean;
  /**
   * After each transaction the sweep pauses this many times as long as the transaction took
   * (CONTENT_SWEEP_PAUSE_RATIO; 0 = back to back): at 1 it holds the database at most half the
   * time while it purges, and readers of the same replica and database get the other half.
   */
  pauseRatio?: number;
  /**
   * Staged upload parts older than this (ms) are deleted (CONTENT_UPLOAD_STALE_MS): what an
   * upload left behind when its replica died. Undefined: not swept.
   */
  uploadStaleMs?: number;
}

/** Objects and logical bytes removed for one reason. */
export interface Removed {
  objects: number;
  bytes: number;
}

/** What one sweep removed. */
export interface SweepResult {
  expired: Removed;
  policyAge: Removed;
  overBudget: Removed;
  /** Expired notifications deleted (no event). */
  notifications: number;
  /** Stale staged upload parts deleted. */
  uploadParts: number;
  /** Transactions that deleted something. */
  batches: number;
  /** All reasons together. */
  objects: number;
  bytes: number;
  ms: number;
}

type Reason = 'expired' | 'policy_age' | 'over_budget';
const REASONS: Record<Reason, contentV1.DeletionReason> = {
  expired: contentV1.DeletionReason.DELETION_REASON_EXPIRED,
  policy_age: contentV1.DeletionReason.DELETION_REASON_POLICY_AGE,
  over_budget: contentV1.DeletionReason.DELETION_REASON_OVER_BUDGET,
};

/**
 * The objects of a locked candidate list that make one batch: in order, up to `batchBytes`
 * (at least one), and, for the budget, only until `need` bytes are covered.
 */
export function cutBatch(candidates: PurgeCandidate[], batchBytes: number, need = Infinity): PurgeCandidate[] {
  const out: PurgeCandidate[] = [];
  let bytes = 0;
  for (const c of candidates) {
    if (out.length && bytes + c.bytes > batchBytes) break;
    if (bytes >= need) break;
    out.push(c);
    bytes += c.bytes;
  }
  return out;
}

/** Deletes `batch` (locked by the caller) with its ContentDeleted events; resolves with what went. */
async function purge(client: PoolClient, names: EventNames, batch: PurgeCandidate[], reason: Reason): Promise<Removed> {
  const deleted = await deleteContentKeys(client, batch.map((c) => c.storageKey));
  await emitContentDeleted(client, names, deleted, REASONS[reason]);
  const gone = new Set(deleted.map((d) => d.storageKey));
  return { objects: deleted.length, bytes: batch.filter((c) => gone.has(c.storageKey)).reduce((n, c) => n + c.bytes, 0) };
}

/**
 * One retention sweep, the sweeper's entry point (also called by benches): deletes, each batch
 * in its own transaction with its ContentDeleted events,
 * 1. expired objects (reason EXPIRED), oldest expiry first;
 * 2. objects older than their tenant's max_age_days (POLICY_AGE), skipping SetExpiry's exemptions;
 * 3. for each tenant over its max_total_bytes, its oldest objects until it is within budget
 *    (OVER_BUDGET), exemptions skipped, as Postal trims a mail server's oldest messages;
 * and expired notifications. A batch holds at most `batchSize` objects and `batchBytes` logical
 * bytes (always at least one object). Safe on several replicas at once: candidates are locked
 * `skip locked` (an object is deleted and announced once, nobody waits), and a tenant's budget
 * is trimmed under a per-tenant advisory lock that the other replicas skip.
 * Records `pm_content_purged_objects_total` / `pm_content_purged_bytes_total` by reason and logs
 * one line when it removed anything.
 */
export async function sweepOnce(deps: SweepDeps, options: SweepOptions): Promise<SweepResult> {
  const started = Date.now();
  const res: SweepResult = {
    expired: { objects: 0, bytes: 0 },
    policyAge: { objects: 0, bytes: 0 },
    overBudget: { objects: 0, bytes: 0 },
    notifications: 0,
    uploadParts: 0,
    batches: 0,
    objects: 0,
    bytes: 0,
    ms: 0,
  };
  const more = () => !options.stopped?.() && (options.maxBatches === undefined || res.batches < options.maxBatches);
  // Each transaction through here: timed, then paced (see SweepOptions.pauseRatio).
  const tx = <T>(fn: (client: PoolClient) => Promise<T>): Promise<T> => paced(deps.pool, options.pauseRatio ?? 0, fn);
  const add = (into: Removed, r: Removed, reason: Reason) => {
    into.objects += r.objects;
    into.bytes += r.bytes;
    res.objects += r.objects;
    res.bytes += r.bytes;
    if (r.objects) {
      res.batches++;
      purgedObjects().inc({ reason }, r.objects);
      purgedBytes().inc({ reason }, r.bytes);
    }
  };

  // 1 and 2: a candidate list per transaction, until a list comes back short.
  const phases: [Reason, Removed, (c: PoolClient) => Promise<PurgeCandidate[]>][] = [
    ['expired', res.expired, (c) => lockExpiredCandidates(c, options.batchSize)],
    ['policy_age', res.policyAge, (c) => lockAgedCandidates(c, { limit: options.batchSize, defaultDays: options.defaults.maxAgeDays })],
  ];
  for (const [reason, into, lock] of phases) {
    while (more()) {
      const { removed, full } = await tx(async (client) => {
        const candidates = await lock(client);
        const batch = cutBatch(candidates, options.batchBytes);
        return { removed: await purge(client, deps.names, batch, reason), full: candidates.length >= options.batchSize || batch.length < candidates.length };
      });
      add(into, removed, reason);
      if (!full || removed.objects === 0) break;
    }
  }

  // 3: per tenant over budget, under its lock; the excess is read again in every transaction.
  for (const tenant of await tenantsOverBudget(deps.pool, options.defaults.maxTotalBytes)) {
    while (more()) {
      const removed = await tx(async (client) => {
        if (!(await tryLockTenantBudget(client, tenant.tenantId))) return undefined; // another replica trims it
        const [now] = await tenantsOverBudget(client, options.defaults.maxTotalBytes, tenant.tenantId);
        if (!now) return undefined;
        const candidates = await lockOldestCandidates(client, tenant.tenantId, options.batchSize);
        const batch = cutBatch(candidates, options.batchBytes, now.totalBytes - now.budgetBytes);
        return purge(client, deps.names, batch, 'over_budget');
      });
      if (!removed) break;
      add(res.overBudget, removed, 'over_budget');
      if (removed.objects === 0) break; // only exempted (or locked) objects left
    }
  }

  // Expired notifications (reads hide them already; nobody needs an event).
  while (more()) {
    const n = await tx((client) => deleteExpiredNotifications(client, options.batchSize));
    res.notifications += n;
    if (n < options.batchSize) break;
  }

  // Upload parts a dead replica left behind (no event: they were never an attachment).
  while (options.uploadStaleMs !== undefined && more()) {
    const n = await tx((client) => deleteStaleUploadParts(client, options.uploadStaleMs!, options.batchSize));
    res.uploadParts += n;
    if (n < options.batchSize) break;
  }

  res.ms = Date.now() - started;
  if (res.objects || res.notifications || res.uploadParts) {
    deps.logger?.info(
      {
        expired: res.expired,
        policyAge: res.policyAge,
        overBudget: res.overBudget,
        notifications: res.notifications,
        uploadParts: res.uploadParts,
        batches: res.batches,
        objects: res.objects,
        bytes: res.bytes,
        ms: res.ms,
      },
      'retention: content purged',
    );
  }
  return res;
}

/**
 * Runs `fn` in a transaction, then waits `ratio` times as long as it took before resolving, so a
 * loop of them uses the database (and this process's event loop) at most 1 / (1 + ratio) of the
 * time. The purge's rate is what it gives up; the sweeper has all day (README "Retention").
 */
export async function paced<T>(pool: Pool, ratio: number, fn: (client: PoolClient) => Promise<T>): Promise<T> {
  const started = performance.now();
  const out = await withTransaction(pool, fn);
  const pause = ratio * (performance.now() - started);
  if (pause >= 1) await new Promise((r) => setTimeout(r, Math.min(pause, 2_000)));
  return out;
}

const purgedObjects = () =>
  defaultMetrics().counter('pm_content_purged_objects_total', 'Content objects the retention sweeper deleted, by reason (expired, policy_age, over_budget).', ['reason']);
const purgedBytes = () =>
  defaultMetrics().counter('pm_content_purged_bytes_total', 'Logical bytes (bodies + attachments) the retention sweeper deleted, by reason.', ['reason']);

export interface RetentionSweeperOptions extends SweepDeps {
  /** Between sweeps (ms); 0 disables the sweeper on this replica. */
  intervalMs: number;
  batchSize: number;
  /** Default: no byte cut (tests that only count rows). */
  batchBytes?: number;
  /** Default: no policy (expiry only). */
  defaults?: RetentionDefaults;
  /** See {@link SweepOptions.uploadStaleMs}; default: not swept. */
  uploadStaleMs?: number;
  /** See {@link SweepOptions.pauseRatio}; default 0. */
  pauseRatio?: number;
}

/**
 * The retention sweeper as background work: {@link sweepOnce} every `intervalMs`. Reads
 * already hide expired objects, so its lag only costs disk, never correctness.
 */
export class RetentionSweeper extends PeriodicTask {
  constructor(private readonly opts: RetentionSweeperOptions) {
    // The sweep logs its own line (per reason); the task's line is the total.
    super({ logger: opts.logger, intervalMs: opts.intervalMs, doneMessage: 'retention: sweep done', failedMessage: 'retention sweep failed; will retry' });
  }

  run(): Promise<number> {
    return this.sweep();
  }

  /** One sweep; resolves with how many objects it deleted. */
  async sweep(): Promise<number> {
    return (await this.sweepDetailed()).objects;
  }

  /** One sweep; resolves with what it removed. */
  sweepDetailed(): Promise<SweepResult> {
    return sweepOnce(this.opts, {
      batchSize: this.opts.batchSize,
      batchBytes: this.opts.batchBytes ?? Number.MAX_SAFE_INTEGER,
      defaults: this.opts.defaults ?? { maxAgeDays: 0, maxTotalBytes: 0 },
      uploadStaleMs: this.opts.uploadStaleMs,
      pauseRatio: this.opts.pauseRatio,
      stopped: () => this.stopped,
    });
  }
}
