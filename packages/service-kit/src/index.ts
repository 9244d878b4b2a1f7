/**
 * @penguinmails/service-kit: what every service of the platform shares. Configuration,
 * logging, the gRPC server (health, reflection, auth, deadlines, error mapping, shutdown),
 * validation and page tokens, PostgreSQL pools and migrations, NATS JetStream streams,
 * the transactional outbox and its relay, and event consumers.
 */
export { ConfigError, DEFAULT_EVENTS_MAX_AGE_MS, commonSettings, loadConfig, natsSettings, paginationSettings, postgresSettings, url } from './config';
export { createLogger } from './logger';
export type { Logger } from './logger';
export {
  AbortedError,
  AlreadyExistsError,
  DeadlineExceededError,
  DomainError,
  FailedPreconditionError,
  InvalidArgumentError,
  NotFoundError,
  PermissionDeniedError,
  UnauthenticatedError,
  UnavailableError,
  asError,
} from './errors';
export type { FieldViolation } from './errors';
export { Validator, isUuid } from './validation';
export { PageTokens } from './page-tokens';
export { DEFAULT_GRPC_LIMITS, GrpcServer, bearerAuthInterceptor, createGrpcServer, grpcCodeLabel, maxSendBytes } from './grpc/server';
export type { CallContext, GrpcLimits, GrpcServerOptions, GrpcServerSettings, Handlers } from './grpc/server';
export { parseAuthTokens } from './grpc/auth';
export type { Principal } from './grpc/auth';
export { MAX_TIMESTAMP_MS, MIN_TIMESTAMP_MS } from './grpc/request-guard';
export { MAX_FIELD_VIOLATIONS, MAX_STATUS_MESSAGE, quoteValue, safeText } from './grpc/safe-text';
export { currentCall, remainingMs, runInCallScope } from './call-scope';
export type { CallScope } from './call-scope';
export { classifyError, decodeStatus, toServiceError } from './grpc/status';
export type { DecodedStatus } from './grpc/status';
export { bearerTokenInterceptor, call, connect } from './grpc/client';
export type { ClientOptions } from './grpc/client';
export { createPgPool, inStatementTransactionSpan, registerPoolMetrics, withClient, withTransaction } from './pg/pool';
export { Metrics, defaultMetrics, startMetricsServer } from './metrics';
export type { Collector, MetricsServer, Sample } from './metrics';
export { decodeCursor, decodeKeyCursor, encodeCursor, fitPage, listPage, listReplyBytes } from './pg/keyset';
export { firstSeen, pruneConsumedEvents } from './pg/inbox';
export type { Filter, KeysetCursor, KeysetOrder, ListPageQuery, PageBudget } from './pg/keyset';
export { runMigrations, runService } from './service';
export {
  activeTraceHeaders,
  startTracing,
  tracingClientInterceptor,
  tracingEnabled,
  tracingSettings,
  traceLogFields,
} from './tracing';
export type { Tracing, TracingSettings } from './tracing';
export { PeriodicTask } from './periodic';
export type { BackgroundWork, RunSettings, ServiceParts } from './service';
export { migratePostgres } from './pg/migrate';
export { describeSettingValue, redact, redactText } from './redact';
export type { MigrateOptions } from './pg/migrate';
export { MigrationError, pendingMigrations, readMigrations } from './migrations/files';
export type { MigrationFile } from './migrations/files';
export { connectNats } from './nats/connect';
export type { ConnectNatsOptions, NatsConnection } from './nats/connect';
export { ensureConsumer, ensureConsumerOnTier, ensureStream } from './nats/streams';
export type { TierStreamSettings } from './nats/streams';
export { EventConsumer, tierEventConsumer } from './nats/consumer';
export type { BatchOutcome, ConsumedEvent, ConsumerLag, EventConsumerOptions, TierConsumerOptions } from './nats/consumer';
export { EventNames, buildEnvelope, decodeEnvelope } from './events';
export type { ProtoMessage, Tier } from './events';
export { outboxInsert, outboxInsertMany } from './outbox/insert';
export { OutboxRelay } from './outbox/relay';
export type { OutboxRelayOptions } from './outbox/relay';
export { onShutdownSignals, runMain } from './lifecycle';
export { grpcServerSettings, openPostgresTier, tlsFromSettings } from './tier';
export type { PostgresTier, PostgresTierSettings } from './tier';
export { DependencyMonitor, natsCheck, postgresCheck } from './health-monitor';
export type { DependencyCheck } from './health-monitor';
