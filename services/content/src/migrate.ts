// CLI: applies this service's migrations to DATABASE_URL and exits (the launcher runs
// `node services/content/dist/migrate.js`; main.ts also migrates at start unless
// MIGRATE_ON_START=false). Safe when replicas run it at once (advisory lock in the kit).
import { join } from 'node:path';
import { z } from 'zod';
import { createLogger, loadConfig, migratePostgres, postgresSettings, runMain } from '@penguinmails/service-kit';

/** prisma/migrations, from src/ (ts-node, jest) and from dist/ alike. */
export const migrationsDir = join(__dirname, '..', 'prisma', 'migrations');

if (require.main === module) {
  runMain('content-migrate', async () => {
    const settings = loadConfig({
      DATABASE_URL: postgresSettings.DATABASE_URL,
      LOG_LEVEL: z.enum(['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent']).default('info'),
    });
    const logger = createLogger({ service: 'content', level: settings.LOG_LEVEL });
    const { applied } = await migratePostgres({ databaseUrl: settings.DATABASE_URL, migrationsDir, logger });
    logger.info({ applied }, applied.length ? 'content: migrations applied' : 'content: database is up to date');
  });
}
