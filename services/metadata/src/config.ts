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
};

export type Settings = ReturnType<typeof loadSettings>;

export function loadSettings(env: NodeJS.ProcessEnv = process.env) {
  return loadConfig(settingsShape, env);
}
