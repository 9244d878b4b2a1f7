import { metadataV1 } from '@penguinmails/contracts';
import { buildEnvelope, outboxInsert, type EventNames, type ProtoMessage } from '@penguinmails/service-kit';
import type { LeadRow, MessageRow } from '../db/rows';
import { bounceType, contentState, leadStatus, direction, messageStatus, messageType } from './enums';

/** The metadata tier's events: subject suffix and payload type (see proto events.proto). */
interface EventDef<T> {
  suffix: string;
  type: ProtoMessage<T>;
  name: string;
}

export const EVENTS: {
  messageRecorded: EventDef<metadataV1.MessageRecorded>;
  messageStatusChanged: EventDef<metadataV1.MessageStatusChanged>;
  leadCreated: EventDef<metadataV1.LeadCreated>;
  campaignStatusChanged: EventDef<metadataV1.CampaignStatusChanged>;
} = {
  messageRecorded: { suffix: 'message_recorded', type: metadataV1.MessageRecorded, name: 'penguinmails.metadata.v1.MessageRecorded' },
  messageStatusChanged: { suffix: 'message_status_changed', type: metadataV1.MessageStatusChanged, name: 'penguinmails.metadata.v1.MessageStatusChanged' },
  leadCreated: { suffix: 'lead_created', type: metadataV1.LeadCreated, name: 'penguinmails.metadata.v1.LeadCreated' },
  campaignStatusChanged: { suffix: 'campaign_status_changed', type: metadataV1.CampaignStatusChanged, name: 'penguinmails.metadata.v1.CampaignStatusChanged' },
};

/**
 * The MessageRef of MessageRecorded's payload. The API answers with the same message (rpc/mappers.ts
 * uses this function), so a ref reads the same on the bus and through the API.
 */
export function messageRefOf(r: MessageRow): metadataV1.MessageRef {
  return {
    id: r.id,
    tenantId: r.tenantId,
    emailAccountId: r.emailAccountId,
    campaignId: r.campaignId ?? '',
    leadId: r.leadId ?? '',
    sequenceStepId: r.sequenceStepId ?? '',
    parentMessageId: r.parentMessageId ?? '',
    direction: direction.fromDb(r.direction),
    messageType: messageType.fromDb(r.messageType),
    fromEmail: r.fromEmail,
    toEmail: r.toEmail,
    subject: r.subject ?? '',
    status: messageStatus.fromDb(r.status),
    contentStorageKey: r.contentStorageKey ?? '',
    providerMessageId: r.providerMessageId ?? '',
    clientKey: r.clientKey ?? '',
    bounceType: r.bounceType ? bounceType.fromDb(r.bounceType) : 0,
    contentState: contentState.fromDb(r.contentState),
    processed: r.processed ?? undefined,
    created: r.created,
    updated: r.updated,
  };
}

/** The Lead of LeadCreated's payload; the API answers with the same message (rpc/mappers.ts). */
export function leadOf(r: LeadRow): metadataV1.Lead {
  return {
    id: r.id,
    tenantId: r.tenantId,
    email: r.email,
    firstName: r.firstName ?? '',
    lastName: r.lastName ?? '',
    company: r.company ?? '',
    customFields: r.customFields,
    status: leadStatus.fromDb(r.status),
    created: r.created,
    updated: r.updated,
  };
}

export interface OutboxRow {
  eventId: string;
  tenantId: string;
  subject: string;
  eventType: string;
  bytes: Uint8Array;
}

/** One outbox row (envelope encoded) for an event; insert it in the transaction of the change. */
export function outboxRow<T>(
  names: EventNames,
  event: { suffix: string; type: ProtoMessage<T>; name: string },
  tenantId: string,
  payload: T,
): OutboxRow {
  const { eventId, bytes } = buildEnvelope({ tenantId, source: 'metadata', eventType: event.name, type: event.type, payload });
  return { eventId, tenantId, subject: names.subject('metadata', tenantId, event.suffix), eventType: event.name, bytes };
}

export { outboxInsert };
