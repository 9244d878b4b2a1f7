import { analyticsV1 } from '@penguinmails/contracts';
import { createGrpcServer, type GrpcServer, type GrpcServerSettings } from '@penguinmails/service-kit';
import type { Logger } from 'pino';
import type { Store } from './db/client';
import type { IngestLimits } from './domain/events';
import { analyticsHandlers } from './rpc/analytics-service';

export interface ServerDeps {
  store: Store;
  logger: Logger;
  limits: IngestLimits;
  /** Auth tokens, deadline cap, TLS, reflection, transport limits (grpcServerSettings of the settings). */
  grpc?: GrpcServerSettings;
}

/** The analytics gRPC server, not yet listening. Used by main.ts and by the tests alike. */
export function createServer(deps: ServerDeps): GrpcServer {
  const server = createGrpcServer({
    service: 'analytics',
    logger: deps.logger,
    ...deps.grpc,
  });
  server.addService<analyticsV1.AnalyticsServiceServer>(
    'penguinmails.analytics.v1.AnalyticsService',
    analyticsV1.AnalyticsServiceService,
    analyticsHandlers({ store: deps.store, limits: deps.limits }),
  );
  return server;
}
