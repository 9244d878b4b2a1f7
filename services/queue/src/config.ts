import { z } from 'zod';
import { commonSettings, loadConfig, natsSettings, paginationSettings, postgresSettings } from '@penguinmails/service-kit';

const positiveInt = () => z.coerce.number().int().positive();

/** Every setting of the queue service (environment variables); see README "Settings". */
export const settingsShape = {
  ...commonSettings('queue', 50053),
  ...postgresSettings,
  ...natsSettings,
  ...paginationSettings,
  /** Lease of a claim that asks for none (lease_seconds = 0). */
  LEASE_SECONDS_DEFAULT: positiveInt().default(300),
  /** Longest lease a claim or ExtendLease may ask for. */
  LEASE_SECONDS_MAX: positiveInt().default(3600),
  /** Most jobs one ClaimJobs call may take. */
  CLAIM_BATCH_MAX: positiveInt().default(1000),
  /** Most jobs in one EnqueueJobs / CompleteJobs / FailJobs call. */
  BATCH_MAX: positiveInt().default(1000),
  /** Longest ClaimJobs wait_ms (long poll). */
  CLAIM_WAIT_MAX_MS: positiveInt().default(30_000),
  /** Claim statements of one tenant's queue run at most this many at a time per process (the rest wait their turn); 0 = no limit. */
  CLAIM_CONCURRENCY: z.coerce.number().int().min(0).max(1000).default(2),
  /** While a claimer waits, it also re-claims this often (jobs that become runnable by time, a lost LISTEN connection). */
  CLAIM_WAIT_POLL_MS: positiveInt().default(1000),
  /** max_attempts of a job enqueued without one. */
  MAX_ATTEMPTS_DEFAULT: z.coerce.number().int().min(1).max(100).default(5),
  /** Retry backoff: base · 2^(attempt−1), capped at RETRY_MAX_MS, plus up to 10 % jitter. */
  RETRY_BASE_MS: positiveInt().default(1000),
  RETRY_MAX_MS: positiveInt().default(3_600_000),
  /** Largest payload (and log data) as JSON; jobs carry ids, content lives in the content tier. */
  PAYLOAD_MAX_BYTES: positiveInt().default(64 * 1024),
  /** Succeeded jobs (and their logs) are deleted this many hours after they finished. */
  QUEUE_RETENTION_SUCCEEDED_HOURS: positiveInt().default(24 * 7),
  /** Dead and cancelled jobs (and their logs) are deleted this many days after they finished. */
  QUEUE_RETENTION_DEAD_DAYS: positiveInt().default(30),
  /** How often retention runs; 0 turns it off (e.g. when another replica or a cron job does it). */
  QUEUE_RETENTION_INTERVAL_MS: z.coerce.number().int().min(0).default(60_000),
  /** Jobs per retention batch (one transaction each). */
  QUEUE_RETENTION_BATCH: positiveInt().default(1000),
  /**
   * How often the lease sweeper takes back expired leases of every queue (src/domain/lease-sweeper.ts):
   * a job of a queue nobody claims any more is failed or dead within this after its lease ended;
   * 0 turns it off (claims still take back their own queue's). On every replica is safe.
   */
  LEASE_SWEEP_INTERVAL_MS: z.coerce.number().int().min(0).default(30_000),
  /** How often the scheduler looks for due schedules (a fire lands within this after its time); 0 turns it off. */
  SCHEDULER_INTERVAL_MS: z.coerce.number().int().min(0).default(1000),
  /** Schedules fired per scheduler transaction. */
  SCHEDULER_BATCH: positiveInt().default(100),
};

export type Settings = ReturnType<typeof loadSettings>;

export function loadSettings(env: NodeJS.ProcessEnv = process.env) {
  return loadConfig(settingsShape, env);
}

/** The rules' knobs, separate from process settings so tests can pass their own. */
export interface QueueLimits {
  pageSizeDefault: number;
  pageSizeMax: number;
  leaseSecondsDefault: number;
  leaseSecondsMax: number;
  claimBatchMax: number;
  batchMax: number;
  claimWaitMaxMs: number;
  claimWaitPollMs: number;
  /** CLAIM_CONCURRENCY (default 2 when absent). */
  claimConcurrency?: number;
  maxAttemptsDefault: number;
  retryBaseMs: number;
  retryMaxMs: number;
  payloadMaxBytes: number;
}

export function limitsFrom(s: Settings): QueueLimits {
  return {
    pageSizeDefault: s.PAGE_SIZE_DEFAULT,
    pageSizeMax: s.PAGE_SIZE_MAX,
    leaseSecondsDefault: s.LEASE_SECONDS_DEFAULT,
    leaseSecondsMax: s.LEASE_SECONDS_MAX,
    claimBatchMax: s.CLAIM_BATCH_MAX,
    batchMax: s.BATCH_MAX,
    claimWaitMaxMs: s.CLAIM_WAIT_MAX_MS,
    claimWaitPollMs: s.CLAIM_WAIT_POLL_MS,
    claimConcurrency: s.CLAIM_CONCURRENCY,
    maxAttemptsDefault: s.MAX_ATTEMPTS_DEFAULT,
    retryBaseMs: s.RETRY_BASE_MS,
    retryMaxMs: s.RETRY_MAX_MS,
    payloadMaxBytes: s.PAYLOAD_MAX_BYTES,
  };
}
