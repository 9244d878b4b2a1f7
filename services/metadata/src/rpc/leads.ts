import { metadataV1 } from '@penguinmails/contracts';
import { decodeCursor, encodeCursor, InvalidArgumentError, listReplyBytes, Validator } from '@penguinmails/service-kit';
import type { ServerDeps } from '../deps';
import { leadStatus } from '../domain/enums';
import * as leads from '../domain/leads';
import { assertTenant } from '../domain/tenants';
import { nullIfEmpty, pageSizeOf, tenantOf } from './fields';
import { leadToProto } from './mappers';

const MAX_CUSTOM_FIELDS_BYTES = 16 * 1024;

function leadInput(v: Validator, field: string, l: metadataV1.LeadInput | undefined): leads.LeadInsert {
  const customFields = l?.customFields ?? {};
  v.check(JSON.stringify(customFields).length <= MAX_CUSTOM_FIELDS_BYTES, `${field}.custom_fields`, 'TOO_LONG', `${field}.custom_fields must encode to at most 16 KiB of JSON`);
  return {
    email: v.email(`${field}.email`, l?.email),
    firstName: nullIfEmpty(v.string(`${field}.first_name`, l?.firstName, { max: 100 })),
    lastName: nullIfEmpty(v.string(`${field}.last_name`, l?.lastName, { max: 100 })),
    company: nullIfEmpty(v.string(`${field}.company`, l?.company, { max: 200 })),
    customFields,
    status: leadStatus.toDb(l?.status ? v.enumValue(`${field}.status`, l.status, leadStatus.names) : metadataV1.LeadStatus.LEAD_STATUS_NEW),
  };
}

export function leadHandlers(deps: ServerDeps) {
  return {
    async createLead(req: metadataV1.CreateLeadRequest): Promise<metadataV1.CreateLeadResponse> {
      const v = new Validator();
      const tenantId = tenantOf(v, req.tenantId);
      const input = leadInput(v, 'lead', req.lead);
      v.done();
      await assertTenant(deps.prisma, tenantId);
      return { lead: leadToProto(await leads.createLead(deps.pool, deps.names, tenantId, input)) };
    },
    async importLeads(req: metadataV1.ImportLeadsRequest): Promise<metadataV1.ImportLeadsResponse> {
      const v = new Validator();
      const tenantId = tenantOf(v, req.tenantId);
      if (req.leads.length === 0) v.add('leads', 'REQUIRED', 'leads must hold at least one lead');
      if (req.leads.length > deps.limits.importLeadsMax) {
        throw new InvalidArgumentError([
          { field: 'leads', reason: 'TOO_MANY', description: `at most ${deps.limits.importLeadsMax} leads per call, got ${req.leads.length}; split the import` },
        ]);
      }
      const inputs = req.leads.map((l, i) => leadInput(v, `leads[${i}]`, l));
      v.done();
      await assertTenant(deps.prisma, tenantId);
      const res = await leads.importLeads(deps.pool, deps.names, tenantId, inputs);
      return { createdCount: res.created, skippedEmails: res.skipped };
    },
    async getLead(req: metadataV1.GetLeadRequest): Promise<metadataV1.GetLeadResponse> {
      const v = new Validator();
      const tenantId = tenantOf(v, req.tenantId);
      const id = v.uuid('lead_id', req.leadId);
      v.done();
      return { lead: leadToProto(await leads.getLead(deps.pool, tenantId, id)) };
    },
    async updateLead(req: metadataV1.UpdateLeadRequest): Promise<metadataV1.UpdateLeadResponse> {
      const v = new Validator();
      const tenantId = tenantOf(v, req.tenantId);
      const id = v.uuid('lead_id', req.leadId);
      const patch: Partial<leads.LeadInsert> = {};
      if (req.email !== undefined) patch.email = v.email('email', req.email);
      if (req.firstName !== undefined) patch.firstName = nullIfEmpty(v.string('first_name', req.firstName, { max: 100 }));
      if (req.lastName !== undefined) patch.lastName = nullIfEmpty(v.string('last_name', req.lastName, { max: 100 }));
      if (req.company !== undefined) patch.company = nullIfEmpty(v.string('company', req.company, { max: 200 }));
      if (req.customFields !== undefined) {
        v.check(JSON.stringify(req.customFields).length <= MAX_CUSTOM_FIELDS_BYTES, 'custom_fields', 'TOO_LONG', 'custom_fields must encode to at most 16 KiB of JSON');
        patch.customFields = req.customFields;
      }
      if (req.status !== undefined) patch.status = leadStatus.toDb(v.enumValue('status', req.status, leadStatus.names));
      v.done();
      return { lead: leadToProto(await leads.updateLead(deps.pool, tenantId, id, patch)) };
    },
    async listLeads(req: metadataV1.ListLeadsRequest): Promise<metadataV1.ListLeadsResponse> {
      const v = new Validator();
      const tenantId = tenantOf(v, req.tenantId);
      const status = req.status ? leadStatus.toDb(v.enumValue('status', req.status, leadStatus.names)) : undefined;
      const binding = JSON.stringify(['leads', tenantId, status]);
      const size = pageSizeOf(v, deps, req.page);
      v.done();
      const cursor = decodeCursor(deps.pageTokens, req.page?.pageToken, binding);
      const res = await leads.listLeads(deps.pool, tenantId, { status }, cursor, size, listReplyBytes(deps.grpc));
      return { leads: res.rows.map(leadToProto), page: { nextPageToken: encodeCursor(deps.pageTokens, res.next, binding) } };
    },
    async deleteLead(req: metadataV1.DeleteLeadRequest): Promise<metadataV1.DeleteLeadResponse> {
      const v = new Validator();
      const tenantId = tenantOf(v, req.tenantId);
      const id = v.uuid('lead_id', req.leadId);
      v.done();
      await leads.deleteLead(deps.pool, tenantId, id);
      return {};
    },
  };
}
