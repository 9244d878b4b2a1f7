import { z } from 'zod';
import { commonSettings, loadConfig, natsSettings, paginationSettings, postgresSettings } from '@penguinmails/service-kit';

/** Every setting of the metadata service (environment variables); see README "Settings". */
export const settingsShape = {
  ...commonSettings('metadata', 50051),
  ...postgresSettings,
  ...natsSettings,
  ...paginationSettings,
  /** Most leads one ImportLeads call may carry. */
  IMPORT_LEADS_MAX: z.coerce.number().int().positive().default(5000),
  /** Most messages one BatchRecordMessages call may carry. */
  BATCH_RECORD_MAX: z.coerce.number().int().positive().default(1000),
  /** host:port of the content tier (ContentService), which IngestMessage stores bodies in. */
  CONTENT_URL: z.string().min(1).default('127.0.0.1:50052'),
  /** Bearer token for the content tier when its AUTH_TOKENS are set (a service-scope token). */
  CONTENT_TOKEN: z.string().min(1).optional(),
};

export type Settings = ReturnType<typeof loadSettings>;

export function loadSettings(env: NodeJS.ProcessEnv = process.env) {
  return loadConfig(settingsShape, env);
}
