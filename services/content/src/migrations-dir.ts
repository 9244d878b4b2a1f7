import { join } from 'node:path';

/** The migrations shipped with this build: this service's prisma/migrations (from src/ or dist/). */
export const MIGRATIONS_DIR = join(__dirname, '..', 'prisma', 'migrations');
