import type { metadataV1 } from '@penguinmails/contracts';
import type { CampaignRow } from '../domain/campaigns';
import type { EmailAccountRow } from '../domain/email-accounts';
import { campaignStatus, emailAccountStatus, emailProvider, tenantStatus, userRole, userStatus } from '../domain/enums';
import { leadOf, messageRefOf } from '../domain/events';
import type { StepRow } from '../domain/sequence-steps';
import type { TenantRow } from '../domain/tenants';
import type { UserRow } from '../domain/users';

// Rows → proto messages of the responses. A lead and a message ref are also event payloads
// (LeadCreated, MessageRecorded): their one mapping is the domain's payload builder.

export function tenantToProto(r: TenantRow): metadataV1.Tenant {
  return { id: r.id, name: r.name, status: tenantStatus.fromDb(r.status), created: r.created, updated: r.updated };
}

export function userToProto(r: UserRow): metadataV1.User {
  return {
    id: r.id,
    tenantId: r.tenantId,
    email: r.email,
    name: r.name ?? '',
    role: userRole.fromDb(r.role),
    status: userStatus.fromDb(r.status),
    created: r.created,
    updated: r.updated,
  };
}

export function emailAccountToProto(r: EmailAccountRow): metadataV1.EmailAccount {
  return {
    id: r.id,
    tenantId: r.tenantId,
    email: r.email,
    displayName: r.displayName ?? '',
    provider: emailProvider.fromDb(r.provider),
    dailySendLimit: r.dailySendLimit,
    status: emailAccountStatus.fromDb(r.status),
    hardBounceCount: BigInt(r.hardBounceCount),
    created: r.created,
    updated: r.updated,
  };
}

export const leadToProto = leadOf;

export function campaignToProto(r: CampaignRow): metadataV1.Campaign {
  const days: number[] = [];
  for (let d = 0; d < 7; d++) if (r.sendDays & (1 << d)) days.push(d);
  return {
    id: r.id,
    tenantId: r.tenantId,
    name: r.name,
    status: campaignStatus.fromDb(r.status),
    schedule: {
      timezone: r.timezone,
      windowStartMinute: r.windowStartMinute,
      windowEndMinute: r.windowEndMinute,
      sendDays: days,
      startAt: r.startAt ?? undefined,
    },
    created: r.created,
    updated: r.updated,
  };
}

export function stepToProto(r: StepRow): metadataV1.SequenceStep {
  return { ...r };
}

export const messageToProto = messageRefOf;
