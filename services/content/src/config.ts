import { z } from 'zod';
import { commonSettings, loadConfig, natsSettings, paginationSettings, postgresSettings } from '@penguinmails/service-kit';

const MiB = 1024 * 1024;

/** Every setting of the content service (environment variables); see README "Settings". */
export const settingsShape = {
  ...commonSettings('content', 50052),
  ...postgresSettings,
  ...natsSettings,
  ...paginationSettings,
  /** Largest attachment AddAttachment accepts (bytes). The column is an int4, hence the cap. */
  ATTACHMENT_MAX_BYTES: z.coerce.number().int().positive().max(1024 * MiB).default(25 * MiB),
  /** Largest content_text + content_html + headers JSON one PutContent may carry (UTF-8 bytes). */
  CONTENT_MAX_BYTES: z.coerce.number().int().positive().max(1024 * MiB).default(10 * MiB),
  /**
   * Largest text + html + headers of all items of one BatchPutContent (UTF-8 bytes). The server's
   * gRPC receive limit is raised to it (+1 MiB), so it is also memory per in-flight batch call.
   */
  CONTENT_BATCH_MAX_BYTES: z.coerce.number().int().positive().max(512 * MiB).default(64 * MiB),
  /** Retention applied when PutContent has no `expires` (days); 0 keeps content until deleted. */
  CONTENT_DEFAULT_RETENTION_DAYS: z.coerce.number().int().nonnegative().default(0),
  /** How often the retention sweeper deletes expired objects (ms); 0 disables it on this replica. */
  RETENTION_SWEEP_MS: z.coerce.number().int().nonnegative().default(60_000),
  /** Objects deleted per sweeper transaction (keeps each transaction and its locks short). */
  RETENTION_SWEEP_BATCH: z.coerce.number().int().positive().default(500),
  /**
   * How long after it was stored an object no message ref names is collected as an orphan
   * (ms); 0 disables the orphan sweep. Swept every RETENTION_SWEEP_MS, RETENTION_SWEEP_BATCH at a time.
   */
  CONTENT_ORPHAN_GRACE_MS: z.coerce.number().int().nonnegative().default(3_600_000),
  /**
   * Logical bytes (bodies + attachments) the retention sweeper deletes per transaction at most
   * (a batch always holds one object): 500 objects of 25 MiB are ~50 transactions, not one.
   */
  CONTENT_SWEEP_BATCH_BYTES: z.coerce.number().int().positive().default(256 * MiB),
  /**
   * Staged parts of an UploadAttachment stream older than this (ms) are deleted by the retention
   * sweeper: what an upload left behind when its replica died. Keep it above GRPC_MAX_CALL_MS
   * (no upload lasts longer); a part deleted under a live upload fails that upload, never
   * stores a short file.
   */
  CONTENT_UPLOAD_STALE_MS: z.coerce.number().int().positive().default(3_600_000),
  /**
   * The retention and orphan sweepers pause after each transaction this many times as long as
   * it took (0 = back to back): they then use the database at most 1 / (1 + ratio) of the time
   * while purging, and readers of the same replica keep the rest (bench:content part 4).
   */
  CONTENT_SWEEP_PAUSE_RATIO: z.coerce.number().nonnegative().max(100).default(1),
  /**
   * Connections of the background pool the sweepers and the MessageRecorded consumer use, apart
   * from the RPCs' pool (DATABASE_POOL_MAX): background work never makes a call wait for a
   * connection. 0 = they share the RPCs' pool.
   */
  CONTENT_BACKGROUND_POOL_MAX: z.coerce.number().int().nonnegative().max(100).default(2),
  /** Default retention policy by age, for tenants without their own (days since created); 0 = none. */
  CONTENT_RETENTION_MAX_AGE_DAYS: z.coerce.number().int().nonnegative().max(36_500).default(0),
  /** Default size budget per tenant (logical bytes); over it the oldest content goes first; 0 = none. */
  CONTENT_RETENTION_MAX_BYTES: z.coerce.number().int().nonnegative().default(0),
};

export function loadSettings(env: NodeJS.ProcessEnv = process.env) {
  return loadConfig(settingsShape, env);
}
