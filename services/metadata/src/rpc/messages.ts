import { metadataV1 } from '@penguinmails/contracts';
import { decodeCursor, encodeCursor, InvalidArgumentError, Validator } from '@penguinmails/service-kit';
import type { ServerDeps } from '../deps';
import { direction, messageStatus, messageType } from '../domain/enums';
import * as messages from '../domain/messages';
import { nullIfEmpty, pageSizeOf, tenantOf } from './fields';
import { messageToProto } from './mappers';

/** Validates one MessageInput; `field` is "message" or "messages[i]". */
function messageInput(v: Validator, field: string, m: metadataV1.MessageInput | undefined): messages.MessageInsert {
  const dir = direction.toDb(v.enumValue(`${field}.direction`, m?.direction, direction.names));
  const type = m?.messageType ? messageType.toDb(v.enumValue(`${field}.message_type`, m.messageType, messageType.names)) : 'email';
  let status = messages.DEFAULT_STATUS[dir];
  if (m?.status) {
    status = messageStatus.toDb(v.enumValue(`${field}.status`, m.status, messageStatus.names));
    if (status && dir && !messages.INITIAL_STATUSES[dir].includes(status)) {
      v.add(`${field}.status`, 'OUT_OF_RANGE', `${field}.status of a new ${dir} message must be one of ${messages.INITIAL_STATUSES[dir].join(', ')}`);
    }
  }
  const providerMessageId = v.string(`${field}.provider_message_id`, m?.providerMessageId, { max: 998 });
  const clientKey = v.string(`${field}.client_key`, m?.clientKey, { max: 200 });
  if (!providerMessageId && !clientKey) {
    v.add(`${field}.provider_message_id`, 'REQUIRED', `${field}.provider_message_id or ${field}.client_key is required (the idempotency key)`);
  }
  return {
    field,
    emailAccountId: v.uuid(`${field}.email_account_id`, m?.emailAccountId),
    campaignId: v.optionalUuid(`${field}.campaign_id`, m?.campaignId) ?? null,
    leadId: v.optionalUuid(`${field}.lead_id`, m?.leadId) ?? null,
    sequenceStepId: v.optionalUuid(`${field}.sequence_step_id`, m?.sequenceStepId) ?? null,
    parentMessageId: v.optionalUuid(`${field}.parent_message_id`, m?.parentMessageId) ?? null,
    direction: dir,
    messageType: type,
    fromEmail: v.email(`${field}.from_email`, m?.fromEmail),
    toEmail: v.email(`${field}.to_email`, m?.toEmail),
    subject: nullIfEmpty(v.string(`${field}.subject`, m?.subject, { max: 500, trim: false })),
    status,
    contentStorageKey: nullIfEmpty(v.string(`${field}.content_storage_key`, m?.contentStorageKey, { max: 500 })),
    providerMessageId: nullIfEmpty(providerMessageId),
    clientKey: nullIfEmpty(clientKey),
  };
}

function messageId(v: Validator, req: { messageId: string }): string {
  return v.uuid('message_id', req.messageId);
}

export function messageHandlers(deps: ServerDeps) {
  return {
    async recordMessage(req: metadataV1.RecordMessageRequest): Promise<metadataV1.RecordMessageResponse> {
      const v = new Validator();
      const tenantId = tenantOf(v, req.tenantId);
      const input = messageInput(v, 'message', req.message);
      v.done();
      const [r] = await messages.recordMessages(deps.pool, deps.names, tenantId, [input]);
      return { message: messageToProto(r.row), created: r.created };
    },
    async batchRecordMessages(req: metadataV1.BatchRecordMessagesRequest): Promise<metadataV1.BatchRecordMessagesResponse> {
      const v = new Validator();
      const tenantId = tenantOf(v, req.tenantId);
      if (req.messages.length === 0) v.add('messages', 'REQUIRED', 'messages must hold at least one message');
      if (req.messages.length > deps.limits.batchRecordMax) {
        throw new InvalidArgumentError([
          { field: 'messages', reason: 'TOO_MANY', description: `at most ${deps.limits.batchRecordMax} messages per call, got ${req.messages.length}` },
        ]);
      }
      const inputs = req.messages.map((m, i) => messageInput(v, `messages[${i}]`, m));
      v.done();
      const results = await messages.recordMessages(deps.pool, deps.names, tenantId, inputs);
      return { results: results.map((r) => ({ message: messageToProto(r.row), created: r.created })) };
    },
    async getMessage(req: metadataV1.GetMessageRequest): Promise<metadataV1.GetMessageResponse> {
      const v = new Validator();
      const tenantId = tenantOf(v, req.tenantId);
      const id = messageId(v, req);
      v.done();
      return { message: messageToProto(await messages.getMessage(deps.pool, tenantId, id)) };
    },
    async listMessages(req: metadataV1.ListMessagesRequest): Promise<metadataV1.ListMessagesResponse> {
      const v = new Validator();
      const tenantId = tenantOf(v, req.tenantId);
      const f: messages.MessageFilters = {
        campaignId: v.optionalUuid('campaign_id', req.campaignId),
        emailAccountId: v.optionalUuid('email_account_id', req.emailAccountId),
        leadId: v.optionalUuid('lead_id', req.leadId),
        direction: req.direction ? direction.toDb(v.enumValue('direction', req.direction, direction.names)) : undefined,
        messageType: req.messageType ? messageType.toDb(v.enumValue('message_type', req.messageType, messageType.names)) : undefined,
        status: req.status ? messageStatus.toDb(v.enumValue('status', req.status, messageStatus.names)) : undefined,
        processed: req.processed,
        createdFrom: req.created?.start,
        createdTo: req.created?.end,
      };
      if (f.createdFrom && f.createdTo) v.check(f.createdFrom < f.createdTo, 'created.end', 'OUT_OF_RANGE', 'created.end must be after created.start');
      const binding = JSON.stringify(['messages', tenantId, f]);
      const size = pageSizeOf(v, deps, req.page);
      v.done();
      const cursor = decodeCursor(deps.pageTokens, req.page?.pageToken, binding);
      const res = await messages.listMessages(deps.pool, tenantId, f, cursor, size);
      return { messages: res.rows.map(messageToProto), page: { nextPageToken: encodeCursor(deps.pageTokens, res.next, binding) } };
    },
    async getThread(req: metadataV1.GetThreadRequest): Promise<metadataV1.GetThreadResponse> {
      const v = new Validator();
      const tenantId = tenantOf(v, req.tenantId);
      const id = messageId(v, req);
      v.done();
      const t = await messages.getThread(deps.pool, tenantId, id);
      return { messages: t.rows.map(messageToProto), rootMessageId: t.rootId };
    },
    async updateMessageStatus(req: metadataV1.UpdateMessageStatusRequest): Promise<metadataV1.UpdateMessageStatusResponse> {
      const v = new Validator();
      const tenantId = tenantOf(v, req.tenantId);
      const id = messageId(v, req);
      const status = v.enumValue('status', req.status, messageStatus.names);
      v.done();
      return { message: messageToProto(await messages.updateMessageStatus(deps.pool, deps.names, tenantId, id, messageStatus.toDb(status))) };
    },
    async markProcessed(req: metadataV1.MarkProcessedRequest): Promise<metadataV1.MarkProcessedResponse> {
      const v = new Validator();
      const tenantId = tenantOf(v, req.tenantId);
      const id = messageId(v, req);
      v.done();
      return { message: messageToProto(await messages.markProcessed(deps.pool, tenantId, id, req.processed)) };
    },
  };
}
