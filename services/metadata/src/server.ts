import { metadataV1 } from '@penguinmails/contracts';
import { createGrpcServer, type GrpcServer, type Handlers } from '@penguinmails/service-kit';
import type { ServerDeps } from './deps';
import { campaignHandlers } from './rpc/campaigns';
import { emailAccountHandlers } from './rpc/email-accounts';
import { ingestHandlers } from './rpc/ingest';
import { leadHandlers } from './rpc/leads';
import { messageHandlers } from './rpc/messages';
import { tenantHandlers } from './rpc/tenants';
import { userHandlers } from './rpc/users';

export type { ServerDeps } from './deps';

/**
 * The metadata gRPC server (not yet listening): MetadataService plus the kit's health,
 * reflection, auth, logging and error mapping. main.ts and the tests call `.listen(host, port)`.
 */
export function createServer(deps: ServerDeps): GrpcServer {
  const server = createGrpcServer({
    service: 'metadata',
    logger: deps.logger,
    ...deps.grpc,
    // Creating a tenant acts on no existing tenant: only a platform (service-scope) token may.
    // Importing history writes the past (original times and statuses): a platform migration's job.
    serviceScopeMethods: ['CreateTenant', 'ImportMessages'],
  });
  const handlers: Handlers<metadataV1.MetadataServiceServer> = {
    ...tenantHandlers(deps),
    ...userHandlers(deps),
    ...emailAccountHandlers(deps),
    ...leadHandlers(deps),
    ...campaignHandlers(deps),
    ...messageHandlers(deps),
    ...ingestHandlers(deps),
  };
  return server.addService('penguinmails.metadata.v1.MetadataService', metadataV1.MetadataServiceService, handlers);
}
