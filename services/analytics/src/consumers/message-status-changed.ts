import { metadataV1 } from '@penguinmails/contracts';
import type { TenantEvent } from '../domain/events';
import type { EventTypeName } from '../domain/event-types';
import { MalformedEvent, eventTime, optionalId, requiredId } from './malformed';

const S = metadataV1.MessageStatus;

/**
 * The email event a new status means. Opened and clicked are not taken from here: opens and
 * clicks come from tracking through IngestEvents (each open is an event, the status only the
 * furthest state), so counting them here too would double them. Queued, failed and received
 * are no email events.
 */
const BY_STATUS = new Map<metadataV1.MessageStatus, EventTypeName | null>([
  [S.MESSAGE_STATUS_SENT, 'sent'],
  [S.MESSAGE_STATUS_DELIVERED, 'delivered'],
  [S.MESSAGE_STATUS_REPLIED, 'replied'],
  [S.MESSAGE_STATUS_BOUNCED, 'bounced'],
  [S.MESSAGE_STATUS_OPENED, null],
  [S.MESSAGE_STATUS_CLICKED, null],
  [S.MESSAGE_STATUS_QUEUED, null],
  [S.MESSAGE_STATUS_FAILED, null],
  [S.MESSAGE_STATUS_RECEIVED, null],
]);

/**
 * pm.metadata.<tenant>.message_status_changed → at most one email event of the message (its
 * id is the message ref). A bounce reported this way has no type (counted as hard unless the
 * bounce message itself says otherwise: that copy ranks higher).
 */
export function fromMessageStatusChanged(tenantId: string, p: metadataV1.MessageStatusChanged, envelopeTime: Date | undefined, eventId: string): TenantEvent[] {
  const messageRefId = requiredId('message_id', p.messageId);
  const emailAccountId = requiredId('email_account_id', p.emailAccountId);
  const campaignId = optionalId('campaign_id', p.campaignId);
  const sequenceStepId = optionalId('sequence_step_id', p.sequenceStepId);
  const leadId = optionalId('lead_id', p.leadId);
  if (sequenceStepId && !campaignId) throw new MalformedEvent('sequence_step_id is set without campaign_id');
  const type = BY_STATUS.get(p.newStatus);
  if (type === undefined) throw new MalformedEvent(`new_status ${S[p.newStatus] ?? p.newStatus} is not a status this tier knows`);
  if (type === null) return [];
  const occurredAt = eventTime('changed_at', p.changedAt, envelopeTime);
  return [{ tenantId, source: 'status_change', eventId, type, occurredAt, campaignId, emailAccountId, sequenceStepId, leadId, messageRefId }];
}
