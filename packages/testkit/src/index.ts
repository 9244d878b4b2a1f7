/**
 * @penguinmails/testkit: what a test needs to start against the real stores. Fresh
 * PostgreSQL databases cloned from a migrated template, isolated JetStream names, and the
 * shared jest preset (`@penguinmails/testkit/jest-preset`).
 */
export { adminUrl, freshDatabase, outboxPublished, statDeltas } from './postgres';
export type { FreshDatabase } from './postgres';
export { natsTestContext, natsUrl } from './nats';
export type { NatsTestContext } from './nats';
export { spawnNatsServer } from './nats-server';
export type { SpawnedNatsServer } from './nats-server';
export { assertMigrationsMatchPrismaSchema } from './prisma-drift';
export type { MigrationOnlyObjects, PrismaDriftOptions } from './prisma-drift';
export { callRaw, healthCheck, lenField, reflectionListServices, varintField } from './grpc';
export {
  ACCEPTABLE_CODES,
  RawClient,
  ServiceFuzzer,
  describeInput,
  describeValue,
  encodeFuzzValue,
  fuzzOrder,
  fuzzSettings,
  isBadCode,
  loadDescriptorRoot,
  loadServiceSpec,
  pgDigest,
  requestArbitrary,
} from './fuzz';
export type { ArbitraryOptions, FuzzInput, FuzzMethod, FuzzSettings, FuzzValue, FuzzerOptions, MethodStats, RawResult, ServiceSpec } from './fuzz';
export { PLATFORM_SERVICES, freePort, repoRoot, startPlatform } from './platform';
export { listeningPorts, parseListeningLine } from './listening';
export { undocumentedSettings } from './settings-doc';
export type { ListeningLine } from './listening';
export { mulberry32 } from './prng';
export type { Platform, PlatformChild, PlatformService, StartPlatformOptions } from './platform';
export { spawnPostgres } from './embedded-postgres';
export type { SpawnedPostgres } from './embedded-postgres';
