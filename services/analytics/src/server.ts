import { analyticsV1, descriptorSetPath } from '@penguinmails/contracts';
import { createGrpcServer, type GrpcServer } from '@penguinmails/service-kit';
import type { Logger } from 'pino';
import type { Store } from './db/client';
import type { IngestLimits } from './domain/events';
import { analyticsHandlers } from './rpc/analytics-service';

export interface ServerDeps {
  store: Store;
  logger: Logger;
  limits: IngestLimits;
  /** Empty: no authentication (development and tests). */
  authTokens?: string[];
  maxCallMs?: number;
  tls?: { cert: string; key: string; clientCa?: string };
}

/** The analytics gRPC server, not yet listening. Used by main.ts and by the tests alike. */
export function createServer(deps: ServerDeps): GrpcServer {
  const server = createGrpcServer({
    service: 'analytics',
    logger: deps.logger,
    authTokens: deps.authTokens ?? [],
    descriptorSetPath,
    maxCallMs: deps.maxCallMs,
    tls: deps.tls,
  });
  server.addService<analyticsV1.AnalyticsServiceServer>(
    'penguinmails.analytics.v1.AnalyticsService',
    analyticsV1.AnalyticsServiceService,
    analyticsHandlers({ store: deps.store, limits: deps.limits }),
  );
  return server;
}
