import { join } from 'node:path';
import { createLogger, loadConfig, migratePostgres, postgresSettings, runMain } from '@penguinmails/service-kit';
import { z } from 'zod';

/** Where the SQL migrations live, from src/ (ts) and dist/ (js) alike. */
export const migrationsDir = join(__dirname, '..', 'prisma', 'migrations');

// CLI: apply the queue's migrations to DATABASE_URL and exit (the launcher runs
// `node services/queue/dist/migrate.js`). Safe to run while replicas start: the kit takes an
// advisory lock and refuses an edited applied migration.
if (require.main === module) {
  runMain('queue-migrate', async () => {
    const config = loadConfig({ DATABASE_URL: postgresSettings.DATABASE_URL, LOG_LEVEL: z.string().default('info') });
    const logger = createLogger({ service: 'queue-migrate', level: config.LOG_LEVEL });
    const { applied } = await migratePostgres({ databaseUrl: config.DATABASE_URL, migrationsDir, logger });
    logger.info({ applied }, applied.length ? 'queue: migrations applied' : 'queue: schema up to date');
  });
}
