import type { DependencyCheck } from './health-monitor';
import { DependencyMonitor } from './health-monitor';
import type { GrpcServer } from './grpc/server';
import { onShutdownSignals, runMain } from './lifecycle';
import { commonSettings, loadConfig, postgresSettings } from './config';
import { createLogger, type Logger } from './logger';
import { startMetricsServer } from './metrics';
import { migratePostgres } from './pg/migrate';
import { startTracing, tracingSettings } from './tracing';

/** Work a service runs beside its gRPC server (the outbox relay, a sweeper, a consumer). */
export interface BackgroundWork {
  /**
   * Starts it. May resolve once it runs (an event consumer declares its stream and durable
   * first): runService awaits it, so a failure there stops the start-up in one line.
   */
  start(): void | Promise<void>;
  /** Finishes the current batch and stops; safe to call twice. */
  stop(): Promise<void>;
}

/** What a service's `start` builds; {@link runService} runs it. */
export interface ServiceParts {
  server: GrpcServer;
  /** Probes that keep gRPC health true (NOT_SERVING while one fails). */
  checks: DependencyCheck[];
  /** Started once the server listens; stopped, last first, after it stopped taking calls. */
  background?: BackgroundWork[];
  /** Closes the stores, last of all. */
  close(): Promise<void>;
  /** Extra fields for the "ready" log line. */
  ready?: Record<string, unknown>;
}

/** The settings every service's runner reads (from commonSettings). */
export interface RunSettings {
  SERVICE_NAME: string;
  LOG_LEVEL: string;
  LOG_PRETTY: boolean;
  GRPC_HOST: string;
  GRPC_PORT: number;
  SHUTDOWN_GRACE_MS: number;
  HEALTH_CHECK_INTERVAL_MS: number;
  AUTH_TOKENS: string[];
  /** Prometheus `/metrics` port; unset = none. */
  METRICS_PORT?: number;
  METRICS_HOST?: string;
}

/**
 * A service's process, the same for all four: read the settings, build the service, listen,
 * start background work and health monitoring, log one "ready" line; on SIGTERM/SIGINT stop
 * taking calls (health NOT_SERVING, in-flight calls drain), stop the monitor and the
 * background work, then close the stores. A start-up failure is one line and exit 1.
 *
 * `main.ts` of a service is this call and nothing else.
 */
export function runService<S extends RunSettings>(
  name: string,
  loadSettings: () => S,
  start: (settings: S, logger: Logger) => Promise<ServiceParts>,
): void {
  runMain(name, async () => {
    const s = loadSettings();
    const logger = createLogger({ service: s.SERVICE_NAME, level: s.LOG_LEVEL, pretty: s.LOG_PRETTY });
    // Before `start`: the clients it builds and the server get their tracing hooks. Off (no
    // SDK loaded) unless OTEL_TRACES_EXPORTER is set.
    const tracing = startTracing(loadConfig(tracingSettings(s.SERVICE_NAME)), logger);
    const parts = await start(s, logger);
    const port = await parts.server.listen(s.GRPC_HOST, s.GRPC_PORT);
    for (const work of parts.background ?? []) await work.start();
    const monitor = new DependencyMonitor({ server: parts.server, logger, checks: parts.checks, intervalMs: s.HEALTH_CHECK_INTERVAL_MS });
    monitor.start();
    // After the background work started: the relay and consumers have registered their gauges.
    // A port in use is one warning line; the service serves on without /metrics.
    const metricsServer = s.METRICS_PORT !== undefined ? await startMetricsServer({ port: s.METRICS_PORT, host: s.METRICS_HOST ?? s.GRPC_HOST, logger }) : undefined;
    logger.info({ port, auth: s.AUTH_TOKENS.length > 0, metricsPort: metricsServer?.port, tracing: tracing?.describe, ...parts.ready }, `${name} service ready`);

    onShutdownSignals(logger, async () => {
      await parts.server.shutdown(s.SHUTDOWN_GRACE_MS);
      await monitor.stop();
      for (const work of [...(parts.background ?? [])].reverse()) await work.stop();
      await parts.close();
      await metricsServer?.close();
      await tracing?.shutdown();
    });
  });
}

/**
 * `node dist/migrate.js` of a PostgreSQL service: applies its migrations to DATABASE_URL and
 * exits. Safe while replicas start (the kit's advisory lock) and refuses an edited applied
 * migration. Needs only the database: no NATS, no other setting.
 */
export function runMigrations(service: string, migrationsDir: string): void {
  runMain(`${service}-migrate`, async () => {
    const s = loadConfig({ DATABASE_URL: postgresSettings.DATABASE_URL, LOG_LEVEL: commonSettings(service, 0).LOG_LEVEL });
    const logger = createLogger({ service: `${service}-migrate`, level: s.LOG_LEVEL });
    const { applied } = await migratePostgres({ databaseUrl: s.DATABASE_URL, migrationsDir, logger });
    logger.info({ applied }, applied.length ? `${service}: ${applied.length} migration(s) applied` : `${service}: already migrated`);
  });
}
