import { commonV1, metadataV1 } from '@penguinmails/contracts';

/**
 * Proto enums are stored as their short lowercase name ("DIRECTION_INBOUND" → "inbound"), so
 * the tables read well in psql and other tiers' SQL, and the seed's varchar columns hold them.
 */
export interface EnumCodec<E extends number> {
  names: Record<number, string>;
  toDb(value: E): string;
  fromDb(value: string): E;
}

function codec<E extends number>(e: Record<string, string | number>, prefix: string): EnumCodec<E> {
  const names: Record<number, string> = {};
  const toDb = new Map<number, string>();
  const fromDb = new Map<string, number>();
  for (const [k, v] of Object.entries(e)) {
    if (typeof v !== 'number' || v <= 0) continue;
    names[v] = k;
    const short = k.slice(prefix.length).toLowerCase();
    toDb.set(v, short);
    fromDb.set(short, v);
  }
  return {
    names,
    // '' for a value the Validator has already rejected (its done() throws before any write).
    toDb: (value) => toDb.get(value) ?? '',
    fromDb: (value) => (fromDb.get(value) ?? 0) as E,
  };
}

export const tenantStatus = codec<metadataV1.TenantStatus>(metadataV1.TenantStatus, 'TENANT_STATUS_');
export const userRole = codec<metadataV1.UserRole>(metadataV1.UserRole, 'USER_ROLE_');
export const userStatus = codec<metadataV1.UserStatus>(metadataV1.UserStatus, 'USER_STATUS_');
export const emailProvider = codec<metadataV1.EmailProvider>(metadataV1.EmailProvider, 'EMAIL_PROVIDER_');
export const emailAccountStatus = codec<metadataV1.EmailAccountStatus>(metadataV1.EmailAccountStatus, 'EMAIL_ACCOUNT_STATUS_');
export const leadStatus = codec<metadataV1.LeadStatus>(metadataV1.LeadStatus, 'LEAD_STATUS_');
export const campaignStatus = codec<metadataV1.CampaignStatus>(metadataV1.CampaignStatus, 'CAMPAIGN_STATUS_');
export const direction = codec<metadataV1.Direction>(metadataV1.Direction, 'DIRECTION_');
export const messageType = codec<metadataV1.MessageType>(metadataV1.MessageType, 'MESSAGE_TYPE_');
export const messageStatus = codec<metadataV1.MessageStatus>(metadataV1.MessageStatus, 'MESSAGE_STATUS_');
export const contentState = codec<metadataV1.ContentState>(metadataV1.ContentState, 'CONTENT_STATE_');
export const bounceType = codec<commonV1.BounceType>(commonV1.BounceType, 'BOUNCE_TYPE_');
