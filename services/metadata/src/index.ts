/** @penguinmails/metadata: the OLTP tier's gRPC server, for embedding and tests. */
export { createServer } from './server';
export type { ServerDeps } from './deps';
export { createPrisma } from './db/prisma';
export { MIGRATIONS_DIR } from './migrations-dir';
export { loadSettings, settingsShape } from './config';
