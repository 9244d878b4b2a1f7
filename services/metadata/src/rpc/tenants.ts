import { metadataV1 } from '@penguinmails/contracts';
import { Validator } from '@penguinmails/service-kit';
import type { ServerDeps } from '../deps';
import { tenantStatus } from '../domain/enums';
import * as tenants from '../domain/tenants';
import { tenantToProto } from './mappers';

export function tenantHandlers(deps: ServerDeps) {
  return {
    async createTenant(req: metadataV1.CreateTenantRequest): Promise<metadataV1.CreateTenantResponse> {
      const v = new Validator();
      const id = v.optionalUuid('tenant_id', req.tenantId);
      const name = v.string('name', req.name, { max: 200, required: true });
      v.done();
      return { tenant: tenantToProto(await tenants.createTenant(deps.prisma, { id, name })) };
    },
    async getTenant(req: metadataV1.GetTenantRequest): Promise<metadataV1.GetTenantResponse> {
      const v = new Validator();
      const id = v.uuid('tenant_id', req.tenantId);
      v.done();
      return { tenant: tenantToProto(await tenants.getTenant(deps.prisma, id)) };
    },
    async updateTenant(req: metadataV1.UpdateTenantRequest): Promise<metadataV1.UpdateTenantResponse> {
      const v = new Validator();
      const id = v.uuid('tenant_id', req.tenantId);
      const name = req.name === undefined ? undefined : v.string('name', req.name, { max: 200, required: true });
      const status = req.status === undefined ? undefined : v.enumValue('status', req.status, tenantStatus.names);
      v.done();
      const patch = { ...(name !== undefined ? { name } : {}), ...(status !== undefined ? { status: tenantStatus.toDb(status) } : {}) };
      return { tenant: tenantToProto(await tenants.updateTenant(deps.prisma, id, patch)) };
    },
  };
}
