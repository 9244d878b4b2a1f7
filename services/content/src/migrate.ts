// `node dist/migrate.js`: applies this service's migrations to DATABASE_URL and exits (see runMigrations).
import { runMigrations } from '@penguinmails/service-kit';
import { MIGRATIONS_DIR } from './migrations-dir';

runMigrations('content', MIGRATIONS_DIR);
