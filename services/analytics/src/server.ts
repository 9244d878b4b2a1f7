import { analyticsV1 } from '@penguinmails/contracts';
import { createGrpcServer, type GrpcServer } from '@penguinmails/service-kit';
import type { ServerDeps } from './deps';
import { analyticsHandlers } from './rpc/analytics-service';

export type { ServerDeps } from './deps';

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
    analyticsHandlers(deps),
  );
  return server;
}
