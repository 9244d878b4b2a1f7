import { metadataV1 } from '@penguinmails/contracts';
import { decodeCursor, encodeCursor, Validator } from '@penguinmails/service-kit';
import type { ServerDeps } from '../deps';
import * as accounts from '../domain/email-accounts';
import { emailAccountStatus, emailProvider } from '../domain/enums';
import { assertTenant } from '../domain/tenants';
import { nullIfEmpty, pageSizeOf, tenantOf } from './fields';
import { emailAccountToProto } from './mappers';

const MAX_DAILY = 100_000;

export function emailAccountHandlers(deps: ServerDeps) {
  return {
    async createEmailAccount(req: metadataV1.CreateEmailAccountRequest): Promise<metadataV1.CreateEmailAccountResponse> {
      const v = new Validator();
      const tenantId = tenantOf(v, req.tenantId);
      const email = v.email('email', req.email);
      const displayName = v.string('display_name', req.displayName, { max: 200 });
      const provider = v.enumValue('provider', req.provider, emailProvider.names);
      const limit = v.int('daily_send_limit', req.dailySendLimit, { min: 0, max: MAX_DAILY });
      const status = req.status ? v.enumValue('status', req.status, emailAccountStatus.names) : metadataV1.EmailAccountStatus.EMAIL_ACCOUNT_STATUS_ACTIVE;
      v.done();
      await assertTenant(deps.prisma, tenantId);
      const row = await accounts.createEmailAccount(deps.prisma, {
        tenantId,
        email,
        displayName: nullIfEmpty(displayName),
        provider: emailProvider.toDb(provider),
        dailySendLimit: limit || accounts.DEFAULT_DAILY_SEND_LIMIT,
        status: emailAccountStatus.toDb(status),
      });
      return { emailAccount: emailAccountToProto(row) };
    },
    async getEmailAccount(req: metadataV1.GetEmailAccountRequest): Promise<metadataV1.GetEmailAccountResponse> {
      const v = new Validator();
      const tenantId = tenantOf(v, req.tenantId);
      const id = v.uuid('email_account_id', req.emailAccountId);
      v.done();
      return { emailAccount: emailAccountToProto(await accounts.getEmailAccount(deps.prisma, tenantId, id)) };
    },
    async updateEmailAccount(req: metadataV1.UpdateEmailAccountRequest): Promise<metadataV1.UpdateEmailAccountResponse> {
      const v = new Validator();
      const tenantId = tenantOf(v, req.tenantId);
      const id = v.uuid('email_account_id', req.emailAccountId);
      const patch: Parameters<typeof accounts.updateEmailAccount>[3] = {};
      if (req.displayName !== undefined) patch.displayName = nullIfEmpty(v.string('display_name', req.displayName, { max: 200 }));
      if (req.dailySendLimit !== undefined) patch.dailySendLimit = v.int('daily_send_limit', req.dailySendLimit, { min: 0, max: MAX_DAILY });
      if (req.status !== undefined) patch.status = emailAccountStatus.toDb(v.enumValue('status', req.status, emailAccountStatus.names));
      v.done();
      return { emailAccount: emailAccountToProto(await accounts.updateEmailAccount(deps.prisma, tenantId, id, patch)) };
    },
    async listEmailAccounts(req: metadataV1.ListEmailAccountsRequest): Promise<metadataV1.ListEmailAccountsResponse> {
      const v = new Validator();
      const tenantId = tenantOf(v, req.tenantId);
      const status = req.status ? emailAccountStatus.toDb(v.enumValue('status', req.status, emailAccountStatus.names)) : undefined;
      const provider = req.provider ? emailProvider.toDb(v.enumValue('provider', req.provider, emailProvider.names)) : undefined;
      const binding = JSON.stringify(['email_accounts', tenantId, status, provider]);
      const size = pageSizeOf(v, deps, req.page);
      v.done();
      const cursor = decodeCursor(deps.pageTokens, req.page?.pageToken, binding);
      const res = await accounts.listEmailAccounts(deps.pool, tenantId, { status, provider }, cursor, size);
      return { emailAccounts: res.rows.map(emailAccountToProto), page: { nextPageToken: encodeCursor(deps.pageTokens, res.next, binding) } };
    },
  };
}
