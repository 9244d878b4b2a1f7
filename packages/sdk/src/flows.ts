import { randomUUID } from 'node:crypto';
import { status } from '@grpc/grpc-js';
import { contentV1, metadataV1, queueV1 } from '@penguinmails/contracts';
import type { CallOptions, ContentApi, DeepPartial, MetadataApi } from './client';
import { PenguinMailsError } from './errors';
import type { LeanJob } from './worker';

/** What sendMessage and receiveMessage need: the two services they call. */
export interface FlowServices {
  metadata: MetadataApi;
  content: ContentApi;
}

export type MessageInputPartial = DeepPartial<metadataV1.MessageInput>;
export type MessageBodyPartial = DeepPartial<metadataV1.MessageBody>;
export type MessageAttachmentPartial = DeepPartial<metadataV1.MessageAttachment>;

/** What sendMessage / receiveMessage return: the message ref and whether this call created it. */
export interface IngestResult {
  message: metadataV1.MessageRef;
  /** False when the message was recorded before (a retry or a re-run job): nothing new was written. */
  created: boolean;
}

export interface SendMessageArgs {
  /** Defaults to the job's tenant. */
  tenantId?: string;
  /**
   * The claimed send job this message is for. Its payload's `emailAccountId`, `campaignId`,
   * `leadId`, `sequenceStepId`, `fromEmail`, `toEmail`, `subject` (camelCase or snake_case) fill the
   * fields `message` leaves empty, and `client_key` defaults to `job:<job id>`, so a job that runs
   * twice (at-least-once delivery) records one message.
   */
  job?: LeanJob;
  /** The ref's fields; `direction` is always OUTBOUND here. */
  message?: MessageInputPartial;
  body?: MessageBodyPartial;
  attachments?: MessageAttachmentPartial[];
  options?: CallOptions;
}

export type InboundKind = 'email' | 'reply' | 'bounce' | 'auto_reply';

export interface ReceiveMessageArgs {
  tenantId: string;
  /**
   * `reply` and `email` record MESSAGE_TYPE_EMAIL, `bounce` MESSAGE_TYPE_BOUNCE (set
   * `message.bounceType`), `auto_reply` MESSAGE_TYPE_AUTO_REPLY. Default: `message.messageType`, else email.
   */
  kind?: InboundKind;
  /**
   * The ref's fields; `direction` is always INBOUND. Pass the Message-ID header as
   * `providerMessageId` (it makes a redelivered message one ref) and its In-Reply-To /
   * References headers as `inReplyTo` / `references`: the service links the reply to the ref it
   * answers, and the reply takes that message's campaign, step and lead.
   */
  message: MessageInputPartial;
  body?: MessageBodyPartial;
  attachments?: MessageAttachmentPartial[];
  options?: CallOptions;
}

const PAYLOAD_FIELDS: [keyof metadataV1.MessageInput, string][] = [
  ['emailAccountId', 'email_account_id'],
  ['campaignId', 'campaign_id'],
  ['leadId', 'lead_id'],
  ['sequenceStepId', 'sequence_step_id'],
  ['fromEmail', 'from_email'],
  ['toEmail', 'to_email'],
  ['subject', 'subject'],
];

/** The message fields a send job's payload carries (strings only; anything else is ignored). */
export function messageFieldsFromJob(job: LeanJob): MessageInputPartial {
  const payload = (job.payload ?? {}) as Record<string, unknown>;
  const out: Record<string, string> = {};
  for (const [camel, snake] of PAYLOAD_FIELDS) {
    const v = payload[camel] ?? payload[snake];
    if (typeof v === 'string' && v !== '') out[camel] = v;
  }
  return out as MessageInputPartial;
}

function withoutEmpty<T extends object>(o: T | undefined): Partial<T> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(o ?? {})) if (v !== undefined && v !== null && v !== '') out[k] = v;
  return out as Partial<T>;
}

/**
 * Records an outbound message with its body and attachments in one idempotent call
 * (metadata IngestMessage: the body goes to the content tier, the ref gets its storage key).
 * A message without `providerMessageId` / `clientKey` gets a client key (`job:<id>` for a job,
 * else a new UUID), so the SDK can retry the call safely.
 */
export async function sendMessage(services: FlowServices, args: SendMessageArgs): Promise<IngestResult> {
  const tenantId = args.tenantId ?? args.job?.tenantId ?? '';
  const message: MessageInputPartial = {
    ...(args.job ? messageFieldsFromJob(args.job) : {}),
    ...withoutEmpty(args.message),
    direction: metadataV1.Direction.DIRECTION_OUTBOUND,
  };
  if (!message.providerMessageId && !message.clientKey) message.clientKey = args.job ? `job:${args.job.id}` : `sdk:${randomUUID()}`;
  const res = await services.metadata.ingestMessage({ tenantId, message, body: args.body, attachments: args.attachments }, args.options);
  return { message: res.message!, created: res.created };
}

const KIND_TYPES: Record<InboundKind, metadataV1.MessageType> = {
  email: metadataV1.MessageType.MESSAGE_TYPE_EMAIL,
  reply: metadataV1.MessageType.MESSAGE_TYPE_EMAIL,
  bounce: metadataV1.MessageType.MESSAGE_TYPE_BOUNCE,
  auto_reply: metadataV1.MessageType.MESSAGE_TYPE_AUTO_REPLY,
};

/**
 * Records an inbound message (a reply, a bounce, an auto-reply) with its body and attachments
 * through metadata IngestMessage, linked to the message it answers by `inReplyTo` / `references`.
 */
export async function receiveMessage(services: FlowServices, args: ReceiveMessageArgs): Promise<IngestResult> {
  const message: MessageInputPartial = { ...withoutEmpty(args.message), direction: metadataV1.Direction.DIRECTION_INBOUND };
  if (args.kind) message.messageType = KIND_TYPES[args.kind];
  if (!message.providerMessageId && !message.clientKey) message.clientKey = `sdk:${randomUUID()}`;
  const res = await services.metadata.ingestMessage({ tenantId: args.tenantId, message, body: args.body, attachments: args.attachments }, args.options);
  return { message: res.message!, created: res.created };
}

/** The content state's short name: `STORED`, `PENDING`, `EXPIRED`, `DELETED`, or `NONE` (no key). */
export function contentStateName(state: metadataV1.ContentState | undefined): string {
  if (!state) return 'NONE';
  const name = metadataV1.contentStateToJSON(state);
  return name.startsWith('CONTENT_STATE_') ? name.slice('CONTENT_STATE_'.length) : name;
}

export interface MessageBodyView {
  contentText?: string;
  contentHtml?: string;
  headers?: { [key: string]: unknown };
  /** The content object's metadata (size, created, expires). */
  content: contentV1.ContentObject;
  /** Attachment metadata (no bytes; `content.getAttachment` fetches them). */
  attachments: contentV1.Attachment[];
}

/** A message ref with its body and thread. */
export interface MessageWithBody {
  message: metadataV1.MessageRef;
  /** `message.content_state` by name: STORED, PENDING, EXPIRED, DELETED, or NONE. */
  contentState: string;
  /** Absent when the content tier has no body for it; `bodyUnavailable` says why. */
  body?: MessageBodyView;
  bodyUnavailable?: string;
  /** Oldest first, the message itself included. */
  thread: metadataV1.MessageRef[];
  rootMessageId: string;
}

/**
 * A message ref, its body and its thread. The ref (GetMessage) and the thread (GetThread) are
 * fetched in parallel; the body (GetContent) and its attachments (ListAttachments) in parallel
 * as soon as the ref names its storage key. A body that expired or was deleted is absent, with
 * the ref's content state shown; the ref itself is still returned.
 */
export async function getMessageWithBody(
  services: FlowServices,
  tenantId: string,
  messageId: string,
  options: CallOptions & { thread?: boolean } = {},
): Promise<MessageWithBody> {
  const threadPromise =
    options.thread === false ? Promise.resolve(undefined) : services.metadata.getThread({ tenantId, messageId }, options);
  threadPromise.catch(() => undefined); // awaited below; a failed GetMessage must not leave it unhandled
  const { message } = await services.metadata.getMessage({ tenantId, messageId }, options);
  const ref = message!;
  const contentState = contentStateName(ref.contentState);
  const key = ref.contentStorageKey;

  let bodyPromise: Promise<{ body?: MessageBodyView; bodyUnavailable?: string }>;
  if (!key) bodyPromise = Promise.resolve({ bodyUnavailable: 'the message has no content_storage_key' });
  else if (contentState === 'EXPIRED' || contentState === 'DELETED')
    bodyPromise = Promise.resolve({ bodyUnavailable: `content ${contentState.toLowerCase()}` });
  else
    bodyPromise = Promise.all([
      services.content.getContent({ tenantId, storageKey: key }, options),
      services.content.listAttachments({ tenantId, parentStorageKey: key, page: { pageSize: 0 } }, options),
    ]).then(
      ([content, attachments]) => ({
        body: {
          contentText: content.contentText,
          contentHtml: content.contentHtml,
          headers: content.headers,
          content: content.content!,
          attachments: attachments.attachments,
        },
      }),
      (err: unknown) => {
        // Gone from the content tier before the metadata tier learnt of it (expired, deleted).
        if (err instanceof PenguinMailsError && err.code === status.NOT_FOUND)
          return { bodyUnavailable: 'not found in the content tier (expired or deleted)' };
        throw err;
      },
    );

  const [bodyResult, thread] = await Promise.all([bodyPromise, threadPromise]);
  return {
    message: ref,
    contentState,
    ...bodyResult,
    thread: thread?.messages ?? [ref],
    rootMessageId: thread?.rootMessageId ?? ref.id,
  };
}
