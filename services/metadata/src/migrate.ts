import { createLogger, loadConfig, migratePostgres, postgresSettings, runMain } from '@penguinmails/service-kit';
import { MIGRATIONS_DIR } from './migrations-dir';

/** `node services/metadata/dist/migrate.js`: applies pending migrations to DATABASE_URL and exits. */
runMain('metadata-migrate', async () => {
  const s = loadConfig({ DATABASE_URL: postgresSettings.DATABASE_URL });
  const logger = createLogger({ service: 'metadata-migrate', level: 'info', pretty: false });
  const { applied } = await migratePostgres({ databaseUrl: s.DATABASE_URL, migrationsDir: MIGRATIONS_DIR, logger });
  logger.info({ applied }, applied.length ? 'migrations applied' : 'database is up to date');
});
