import type { PoolClient } from 'pg';

// The row shapes the hand-written SQL of db/ and the kit's listPage return, with their select
// lists (snake_case columns aliased to the camelCase fields). Prisma's own types cover the
// rest; these must match schema.prisma (schema-drift.test.ts checks the tables).

export interface UserRow {
  id: string;
  tenantId: string;
  email: string;
  name: string | null;
  role: string;
  status: string;
  created: Date;
  updated: Date;
}

export const USER_COLUMNS = `id, tenant_id as "tenantId", email, name, role, status, created, updated`;

export interface EmailAccountRow {
  id: string;
  tenantId: string;
  email: string;
  displayName: string | null;
  provider: string;
  dailySendLimit: number;
  status: string;
  hardBounceCount: number;
  created: Date;
  updated: Date;
}

export const EMAIL_ACCOUNT_COLUMNS = `id, tenant_id as "tenantId", email, display_name as "displayName", provider,
  daily_send_limit as "dailySendLimit", status, hard_bounce_count as "hardBounceCount", created, updated`;

export interface LeadRow {
  id: string;
  tenantId: string;
  email: string;
  firstName: string | null;
  lastName: string | null;
  company: string | null;
  customFields: Record<string, unknown>;
  status: string;
  created: Date;
  updated: Date;
}

/** The writable fields of a lead. */
export type LeadInsert = Omit<LeadRow, 'id' | 'tenantId' | 'created' | 'updated'>;

export const LEAD_COLUMNS = `id, tenant_id as "tenantId", email, first_name as "firstName", last_name as "lastName", company,
  custom_fields as "customFields", status, created, updated`;

export interface CampaignRow {
  id: string;
  tenantId: string;
  name: string;
  status: string;
  timezone: string;
  windowStartMinute: number;
  windowEndMinute: number;
  sendDays: number;
  startAt: Date | null;
  created: Date;
  updated: Date;
}

export const CAMPAIGN_COLUMNS = `id, tenant_id as "tenantId", name, status, timezone, window_start_minute as "windowStartMinute",
  window_end_minute as "windowEndMinute", send_days as "sendDays", start_at as "startAt", created, updated`;

export interface MessageRow {
  id: string;
  tenantId: string;
  emailAccountId: string;
  campaignId: string | null;
  leadId: string | null;
  sequenceStepId: string | null;
  parentMessageId: string | null;
  direction: string;
  messageType: string;
  fromEmail: string;
  toEmail: string;
  subject: string | null;
  status: string;
  contentStorageKey: string | null;
  providerMessageId: string | null;
  clientKey: string | null;
  /** hard | soft on bounce refs, null on the others. */
  bounceType: string | null;
  /** unspecified (no key) | pending | stored | expired | deleted (see content_keys). */
  contentState: string;
  processed: Date | null;
  created: Date;
  updated: Date;
}

/**
 * The stored fields of a new message ref (db values; null for absent). `contentState` is the
 * state to start with when content_keys knows nothing of the key (insertMessages prefers what it knows).
 */
export type MessageValues = Omit<MessageRow, 'id' | 'tenantId' | 'processed' | 'created' | 'updated'>;

/** The select list of a message ref (bench/ times the hot queries with it too). */
export const MESSAGE_COLUMNS = `id, tenant_id as "tenantId", email_account_id as "emailAccountId", campaign_id as "campaignId",
  lead_id as "leadId", sequence_step_id as "sequenceStepId", parent_message_id as "parentMessageId", direction,
  message_type as "messageType", from_email as "fromEmail", to_email as "toEmail", subject, status,
  content_storage_key as "contentStorageKey", provider_message_id as "providerMessageId", client_key as "clientKey",
  bounce_type as "bounceType", content_state as "contentState", processed, created, updated`;

/** What a db/ function runs its SQL on: the pool, or a transaction's client. */
export type Queryable = Pick<PoolClient, 'query'>;
