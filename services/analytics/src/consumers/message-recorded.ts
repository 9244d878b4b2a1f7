import { commonV1, metadataV1 } from '@penguinmails/contracts';
import type { BounceKind, TenantEvent } from '../domain/events';
import type { EventTypeName } from '../domain/event-types';
import { MalformedEvent, eventTime, optionalId, requiredId } from './malformed';

const S = metadataV1.MessageStatus;
const T = metadataV1.MessageType;
const D = metadataV1.Direction;

/** Outbound statuses that mean the message left: it was sent, whatever happened after. */
const SENT_OR_LATER = new Set<metadataV1.MessageStatus>([S.MESSAGE_STATUS_SENT, S.MESSAGE_STATUS_DELIVERED, S.MESSAGE_STATUS_OPENED, S.MESSAGE_STATUS_CLICKED, S.MESSAGE_STATUS_REPLIED, S.MESSAGE_STATUS_BOUNCED]);
/** Outbound statuses that mean it has not left (yet, or ever): nothing to count. */
const NOT_SENT = new Set<metadataV1.MessageStatus>([S.MESSAGE_STATUS_QUEUED, S.MESSAGE_STATUS_FAILED]);

/**
 * pm.metadata.<tenant>.message_recorded → the email events it means (see the README's mapping
 * table): an outbound message sent (or later) is `sent`; an inbound reply linked to a parent is
 * `replied` of the parent; an inbound bounce is `bounced` (with its type) and an auto reply
 * `auto_replied`, of the parent when linked, else of the message itself. Everything else is no
 * event. A payload this tier can never store throws {@link MalformedEvent}.
 */
export function fromMessageRecorded(tenantId: string, payload: metadataV1.MessageRecorded, envelopeTime: Date | undefined, eventId: string): TenantEvent[] {
  const ref = payload.message;
  if (!ref) throw new MalformedEvent('MessageRecorded has no message');
  const id = requiredId('message.id', ref.id);
  if (ref.tenantId && ref.tenantId.toLowerCase() !== tenantId) throw new MalformedEvent(`message.tenant_id ${ref.tenantId} is not the envelope's tenant ${tenantId}`);
  const emailAccountId = requiredId('message.email_account_id', ref.emailAccountId);
  const campaignId = optionalId('message.campaign_id', ref.campaignId);
  const sequenceStepId = optionalId('message.sequence_step_id', ref.sequenceStepId);
  const leadId = optionalId('message.lead_id', ref.leadId);
  const parentId = optionalId('message.parent_message_id', ref.parentMessageId);
  if (sequenceStepId && !campaignId) throw new MalformedEvent('message.sequence_step_id is set without message.campaign_id');
  const occurredAt = eventTime('message.created', ref.created, envelopeTime);

  const event = (type: EventTypeName, messageRefId: string, bounceType?: BounceKind): TenantEvent[] => [
    { tenantId, source: 'message', eventId, type, occurredAt, campaignId, emailAccountId, sequenceStepId, leadId, messageRefId, bounceType },
  ];

  if (ref.direction === D.DIRECTION_OUTBOUND) {
    if (SENT_OR_LATER.has(ref.status)) return event('sent', id);
    if (NOT_SENT.has(ref.status)) return [];
    throw new MalformedEvent(`an outbound message with status ${S[ref.status] ?? ref.status}`);
  }
  if (ref.direction !== D.DIRECTION_INBOUND) throw new MalformedEvent(`message.direction ${D[ref.direction] ?? ref.direction} is neither inbound nor outbound`);
  switch (ref.messageType) {
    case T.MESSAGE_TYPE_EMAIL:
      // A reply is a reply to a message of ours; an unsolicited inbound mail is no campaign event.
      return parentId ? event('replied', parentId) : [];
    case T.MESSAGE_TYPE_BOUNCE:
      return event('bounced', parentId ?? id, bounceKind(ref.bounceType));
    case T.MESSAGE_TYPE_AUTO_REPLY:
      return event('auto_replied', parentId ?? id);
    default:
      throw new MalformedEvent(`message.message_type ${T[ref.messageType] ?? ref.messageType} is not one this tier knows`);
  }
}

/** The ref's bounce type; unspecified (or a value from a newer contract) is unknown: counted as hard. */
function bounceKind(b: commonV1.BounceType): BounceKind | undefined {
  if (b === commonV1.BounceType.BOUNCE_TYPE_HARD) return 'hard';
  if (b === commonV1.BounceType.BOUNCE_TYPE_SOFT) return 'soft';
  return undefined;
}
