import { metadataV1 } from '@penguinmails/contracts';
import { decodeCursor, encodeCursor, InvalidArgumentError, Validator } from '@penguinmails/service-kit';
import type { ServerDeps } from '../deps';
import { bounceType, direction, messageStatus, messageType } from '../domain/enums';
import * as imports from '../domain/imports';
import * as messages from '../domain/messages';
import { nullIfEmpty, pageSizeOf, tenantOf } from './fields';
import { messageToProto } from './mappers';

/** RFC 5322's line limit: the longest Message-ID (provider_message_id, in_reply_to, references[i]). */
const MESSAGE_ID_MAX = 998;
const REFERENCES_MAX = 100;
/** The content tier's storage key rule (services/content/src/domain/storage-keys.ts): visible ASCII, at most 500. */
const STORAGE_KEY_MAX = 500;
const KEY_CHARS = /^[\x21-\x7e]+$/;

/**
 * content_storage_key, when given, must be one the content tier could hold for this tenant:
 * every key there starts with `<tenant_id>/` (checked synchronously here; whether the content
 * tier really holds it arrives later through its events, as the ref's content_state).
 * `tenantId` is undefined when tenant_id itself was invalid (its own violation says so).
 */
function storageKeyOf(v: Validator, field: string, key: string | undefined, tenantId: string | undefined): string | null {
  const k = key ?? '';
  if (!k) return null;
  if (k.length > STORAGE_KEY_MAX) v.add(field, 'TOO_LONG', `${field} must be at most ${STORAGE_KEY_MAX} characters, got ${k.length}`);
  else if (!KEY_CHARS.test(k)) v.add(field, 'MALFORMED', `${field} may only hold visible ASCII characters (no spaces or control characters), as the content tier's keys do`);
  else if (tenantId !== undefined && !(k.startsWith(`${tenantId}/`) && k.length > tenantId.length + 1)) {
    v.add(field, 'MALFORMED', `${field} must be a content tier key of this tenant: "${tenantId}/..." (e.g. what PutContent returned)`);
  }
  return k;
}

/**
 * Validates one MessageInput; `field` is "message" or "messages[i]". `tenantId` is undefined
 * when the request's tenant_id is invalid.
 */
export function messageInput(v: Validator, field: string, m: metadataV1.MessageInput | undefined, tenantId: string | undefined): messages.MessageInsert {
  const dir = direction.toDb(v.enumValue(`${field}.direction`, m?.direction, direction.names));
  const type = m?.messageType ? messageType.toDb(v.enumValue(`${field}.message_type`, m.messageType, messageType.names)) : 'email';
  let status = messages.DEFAULT_STATUS[dir];
  if (m?.status) {
    status = messageStatus.toDb(v.enumValue(`${field}.status`, m.status, messageStatus.names));
    if (status && dir && !messages.INITIAL_STATUSES[dir].includes(status)) {
      v.add(`${field}.status`, 'OUT_OF_RANGE', `${field}.status of a new ${dir} message must be one of ${messages.INITIAL_STATUSES[dir].join(', ')}`);
    }
  }
  let bounce: string | null = null;
  if (m?.bounceType) {
    const b = bounceType.toDb(v.enumValue(`${field}.bounce_type`, m.bounceType, bounceType.names));
    if (type !== 'bounce') v.add(`${field}.bounce_type`, 'NOT_APPLICABLE', `${field}.bounce_type is only for MESSAGE_TYPE_BOUNCE messages; leave it unspecified`);
    else bounce = b;
  }
  // An unspecified bounce is hard: the address is treated as dead until a soft one says otherwise.
  if (type === 'bounce' && !bounce) bounce = 'hard';
  const providerMessageId = v.string(`${field}.provider_message_id`, m?.providerMessageId, { max: MESSAGE_ID_MAX });
  const clientKey = v.string(`${field}.client_key`, m?.clientKey, { max: 200 });
  if (!providerMessageId && !clientKey) {
    v.add(`${field}.provider_message_id`, 'REQUIRED', `${field}.provider_message_id or ${field}.client_key is required (the idempotency key)`);
  }
  const inReplyTo = v.string(`${field}.in_reply_to`, m?.inReplyTo, { max: MESSAGE_ID_MAX });
  const refs = m?.references ?? [];
  const references: string[] = [];
  if (refs.length > REFERENCES_MAX) {
    v.add(`${field}.references`, 'TOO_MANY', `${field}.references may hold at most ${REFERENCES_MAX} Message-IDs, got ${refs.length}`);
  } else {
    refs.forEach((r, i) => {
      const ref = v.string(`${field}.references[${i}]`, r, { max: MESSAGE_ID_MAX });
      if (ref) references.push(ref);
    });
  }
  const contentStorageKey = storageKeyOf(v, `${field}.content_storage_key`, m?.contentStorageKey, tenantId);
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
    contentStorageKey,
    // Until the content tier's events say more (content_keys, read at insert).
    contentState: contentStorageKey ? 'pending' : 'unspecified',
    providerMessageId: nullIfEmpty(providerMessageId),
    clientKey: nullIfEmpty(clientKey),
    bounceType: bounce,
    inReplyTo: nullIfEmpty(inReplyTo),
    references,
  };
}

/** Imported history must lie between this and now + IMPORT_MAX_FUTURE_MS (clock skew). */
const IMPORT_MIN_TIME = new Date('2000-01-01T00:00:00Z');
const IMPORT_MAX_FUTURE_MS = 5 * 60_000;

/** Validates one ImportedMessage (`field` is "messages[i]"): a MessageInput with the import's own rules, and its times. */
export function importedMessage(v: Validator, field: string, im: metadataV1.ImportedMessage | undefined, tenantId: string | undefined): imports.ImportInsert {
  const f = `${field}.message`;
  const m = im?.message;
  // Status is judged below by the import's rule (any status of the direction), not RecordMessage's.
  const base = messageInput(v, f, m ? { ...m, status: 0 } : undefined, tenantId);
  let status = base.status;
  if (m?.status) {
    status = messageStatus.toDb(v.enumValue(`${f}.status`, m.status, messageStatus.names));
    if (status && base.direction && !imports.IMPORT_STATUSES[base.direction].includes(status)) {
      v.add(`${f}.status`, 'OUT_OF_RANGE', `${f}.status of an imported ${base.direction} message must be one of ${imports.IMPORT_STATUSES[base.direction].join(', ')}`);
    }
  }
  if (!base.clientKey) v.add(`${f}.client_key`, 'REQUIRED', `${f}.client_key is required for an import (the source system's id: the key a repeated import finds the ref by)`);
  if (base.inReplyTo || base.references.length) v.add(`${f}.in_reply_to`, 'NOT_APPLICABLE', `${f}.in_reply_to and ${f}.references must be empty for an import; name the parent by ${f}.parent_message_id`);
  const latest = new Date(Date.now() + IMPORT_MAX_FUTURE_MS);
  const created = im?.created;
  if (!created) v.add(`${field}.created`, 'REQUIRED', `${field}.created is required: when the message was created in the source system`);
  else v.check(created >= IMPORT_MIN_TIME && created <= latest, `${field}.created`, 'OUT_OF_RANGE', `${field}.created must lie between 2000-01-01 and now, got ${created.toISOString()}`);
  const processed = im?.processed ?? null;
  if (processed && created) v.check(processed >= created && processed <= latest, `${field}.processed`, 'OUT_OF_RANGE', `${field}.processed must lie between ${field}.created and now, got ${processed.toISOString()}`);
  const id = v.optionalUuid(`${field}.id`, im?.id);
  return { ...base, status, clientKey: base.clientKey ?? '', created: created ?? IMPORT_MIN_TIME, processed, id };
}

function messageId(v: Validator, req: { messageId: string }): string {
  return v.uuid('message_id', req.messageId);
}

export function messageHandlers(deps: ServerDeps) {
  /**
   * The messages of BatchRecordMessages / ImportMessages: at least one, and at most
   * batchRecordMax — over it the call is refused at once, before each message is validated.
   */
  const batchOf = (v: Validator, list: unknown[]) => {
    if (list.length === 0) v.add('messages', 'REQUIRED', 'messages must hold at least one message');
    if (list.length > deps.limits.batchRecordMax) {
      throw new InvalidArgumentError([
        { field: 'messages', reason: 'TOO_MANY', description: `at most ${deps.limits.batchRecordMax} messages per call, got ${list.length}` },
      ]);
    }
  };
  const recorded = (r: { row: Parameters<typeof messageToProto>[0]; created: boolean }) => ({ message: messageToProto(r.row), created: r.created });

  return {
    async recordMessage(req: metadataV1.RecordMessageRequest): Promise<metadataV1.RecordMessageResponse> {
      const v = new Validator();
      const tenantId = tenantOf(v, req.tenantId);
      const input = messageInput(v, 'message', req.message, v.ok ? tenantId : undefined);
      v.done();
      const [r] = await messages.recordMessages(deps.pool, deps.names, tenantId, [input]);
      return { message: messageToProto(r.row), created: r.created };
    },
    async batchRecordMessages(req: metadataV1.BatchRecordMessagesRequest): Promise<metadataV1.BatchRecordMessagesResponse> {
      const v = new Validator();
      const tenantId = tenantOf(v, req.tenantId);
      const tenantOk = v.ok ? tenantId : undefined;
      batchOf(v, req.messages);
      const inputs = req.messages.map((m, i) => messageInput(v, `messages[${i}]`, m, tenantOk));
      v.done();
      const results = await messages.recordMessages(deps.pool, deps.names, tenantId, inputs);
      return { results: results.map(recorded) };
    },
    async importMessages(req: metadataV1.ImportMessagesRequest): Promise<metadataV1.ImportMessagesResponse> {
      const v = new Validator();
      const tenantId = tenantOf(v, req.tenantId);
      const tenantOk = v.ok ? tenantId : undefined;
      batchOf(v, req.messages);
      const inputs = req.messages.map((m, i) => importedMessage(v, `messages[${i}]`, m, tenantOk));
      // One id for two different messages of the call: the second would silently become the first.
      const keyOfId = new Map<string, string>();
      inputs.forEach((m, i) => {
        if (!m.id) return;
        const key = keyOfId.get(m.id);
        if (key === undefined) keyOfId.set(m.id, m.clientKey);
        else if (key !== m.clientKey) v.add(`messages[${i}].id`, 'DUPLICATE', `messages[${i}].id ${m.id} is also the id of an earlier message of this call with another client_key`);
      });
      v.done();
      const results = await imports.importMessages(deps.pool, deps.names, tenantId, inputs);
      return { results: results.map(recorded) };
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
        updatedFrom: req.updated?.start,
        updatedTo: req.updated?.end,
      };
      if (f.createdFrom && f.createdTo) v.check(f.createdFrom < f.createdTo, 'created.end', 'OUT_OF_RANGE', 'created.end must be after created.start');
      if (f.updatedFrom && f.updatedTo) v.check(f.updatedFrom < f.updatedTo, 'updated.end', 'OUT_OF_RANGE', 'updated.end must be after updated.start');
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
