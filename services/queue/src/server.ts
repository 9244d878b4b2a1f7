import { queueV1 } from '@penguinmails/contracts';
import { createGrpcServer, type GrpcServer, type Handlers } from '@penguinmails/service-kit';
import type { ServerDeps } from './deps';
import { groupLimitHandlers } from './rpc/group-limits';
import { holdHandlers } from './rpc/holds';
import { jobLogHandlers } from './rpc/job-logs';
import { jobHandlers } from './rpc/jobs';
import { scheduleHandlers } from './rpc/schedules';

export type { ServerDeps } from './deps';

/**
 * The queue gRPC server (not yet listening): QueueService plus the kit's health, reflection,
 * auth, logging and error mapping. main.ts and the tests call `.listen(host, port)`.
 */
export function createServer(deps: ServerDeps): GrpcServer {
  const server = createGrpcServer({
    service: 'queue',
    logger: deps.logger,
    ...deps.grpc,
  });
  const handlers: Handlers<queueV1.QueueServiceServer> = {
    ...jobHandlers(deps),
    ...jobLogHandlers(deps),
    ...scheduleHandlers(deps),
    ...holdHandlers(deps),
    ...groupLimitHandlers(deps),
  };
  return server.addService('penguinmails.queue.v1.QueueService', queueV1.QueueServiceService, handlers);
}
