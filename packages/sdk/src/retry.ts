import { status } from '@grpc/grpc-js';
import type { RetryPolicy, ServiceName } from './settings';

/**
 * Whether a method may be sent again after a failure whose outcome is unknown.
 *
 * - `read`: changes nothing (Get*, List*, health Check). Always safe to repeat.
 * - `idempotent`: a write whose repetition leaves the same state as one call (it sets absolute
 *   values, or the service documents it as idempotent). A repeat after a lost success may answer
 *   differently (a repeated Delete* is NOT_FOUND, a repeated CompleteJob FAILED_PRECONDITION), but
 *   it never writes twice.
 * - `keyed`: idempotent only when the request carries its idempotency key (the predicate says
 *   whether this request does); without a key it is `unsafe`.
 * - `unsafe`: a repeat could write twice (a second user, lead, campaign, log line) or do work
 *   twice (a second claim). Never retried.
 */
/** A request as the keyed rules read it: a decoded message whose fields are looked up by name. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- the rules read fields of every RPC's request type by name; each rule checks what it reads at run time
type Keyed = Record<string, any>;

export type Idempotency =
  | { kind: 'read' }
  | { kind: 'idempotent' }
  | { kind: 'keyed'; hasKey: (request: Keyed) => boolean }
  | { kind: 'unsafe' };

const read = { kind: 'read' } as const;
const idempotent = { kind: 'idempotent' } as const;
const unsafe = { kind: 'unsafe' } as const;
const keyed = (hasKey: (request: Keyed) => boolean): Idempotency => ({ kind: 'keyed', hasKey });

const messageKeyed = (m: Keyed | undefined) => Boolean(m && (m.providerMessageId || m.clientKey));

/**
 * THE IDEMPOTENCY TABLE: every RPC of the four services, and whether the SDK may retry it.
 * The key is `<service>.<method>` (the ts-proto method name). A method missing here is treated
 * as `unsafe` (never retried), so a new RPC is safe by default; `test/retry.test.ts` fails
 * until it is classified.
 *
 * Which failures are retried (see `shouldRetry`):
 * | code | read | idempotent | keyed, key present | keyed, no key / unsafe |
 * |---|---|---|---|---|
 * | UNAVAILABLE | yes | yes | yes | no |
 * | ABORTED | yes | yes | yes | no |
 * | RESOURCE_EXHAUSTED | no | no | no | no |
 * | anything else | no | no | no | no |
 */
export const IDEMPOTENCY: Readonly<Record<string, Idempotency>> = Object.freeze({
  // metadata: tenants
  'metadata.createTenant': keyed((r) => Boolean(r.tenantId)), // the caller-chosen id is the key (a repeat after a lost success is ALREADY_EXISTS, never a second tenant)
  'metadata.getTenant': read,
  'metadata.updateTenant': idempotent, // sets absolute values
  // users
  'metadata.createUser': unsafe,
  'metadata.getUser': read,
  'metadata.updateUser': idempotent,
  'metadata.listUsers': read,
  'metadata.deleteUser': idempotent,
  // mailboxes
  'metadata.createEmailAccount': unsafe,
  'metadata.getEmailAccount': read,
  'metadata.updateEmailAccount': idempotent,
  'metadata.listEmailAccounts': read,
  // leads
  'metadata.createLead': unsafe,
  'metadata.importLeads': unsafe, // no duplicates, but a repeat reports created_count 0: the caller must see the first answer
  'metadata.getLead': read,
  'metadata.updateLead': idempotent,
  'metadata.listLeads': read,
  'metadata.deleteLead': idempotent,
  // campaigns and steps
  'metadata.createCampaign': unsafe,
  'metadata.getCampaign': read,
  'metadata.updateCampaign': idempotent,
  'metadata.updateCampaignStatus': idempotent,
  'metadata.listCampaigns': read,
  'metadata.createSequenceStep': unsafe,
  'metadata.getSequenceStep': read,
  'metadata.updateSequenceStep': idempotent,
  'metadata.listSequenceSteps': read,
  'metadata.deleteSequenceStep': idempotent,
  // message refs: idempotent on (tenant, provider_message_id) and (tenant, client_key)
  'metadata.recordMessage': keyed((r) => messageKeyed(r.message)),
  'metadata.batchRecordMessages': keyed((r) => Array.isArray(r.messages) && r.messages.length > 0 && r.messages.every(messageKeyed)),
  'metadata.getMessage': read,
  'metadata.listMessages': read,
  'metadata.getThread': read,
  'metadata.updateMessageStatus': idempotent, // setting the current status again is a no-op
  'metadata.markProcessed': idempotent, // a second call keeps the first time
  'metadata.ingestMessage': keyed((r) => messageKeyed(r.message)), // idempotent end to end on the message's key
  // client_key is required (else INVALID_ARGUMENT); a repeat finds the refs and sets the same values (created = false)
  'metadata.importMessages': keyed((r) => Array.isArray(r.messages) && r.messages.length > 0 && r.messages.every((m: { message?: { clientKey?: string } }) => Boolean(m?.message?.clientKey))),

  // content
  'content.putContent': keyed((r) => Boolean(r.storageKey)), // empty key: the service makes a new one each time
  // Every item must carry its key (else INVALID_ARGUMENT): a repeat answers EXISTING per item, never a second object.
  'content.batchPutContent': idempotent,
  'content.getContent': read,
  'content.deleteContent': idempotent,
  'content.addAttachment': keyed((r) => Boolean(r.attachmentId)),
  'content.getAttachment': read,
  'content.listAttachments': read,
  // Streams are not retried by the SDK (it exposes unary calls only); an upload is keyed by its
  // sha256 and attachment_id on the service side.
  'content.uploadAttachment': unsafe,
  'content.downloadAttachment': read,
  'content.createTransactionalEmail': keyed((r) => Boolean(r.transactionalEmailId)),
  'content.getTransactionalEmail': read,
  'content.listTransactionalEmails': read,
  'content.updateTransactionalEmailStatus': idempotent, // the same status again changes nothing
  'content.createNotification': unsafe, // no caller-chosen id: a repeat would be a second notice
  'content.getNotification': read,
  'content.listNotifications': read,
  'content.markNotificationRead': idempotent, // the first read time stays
  'content.markAllNotificationsRead': idempotent,
  'content.batchGetContent': read,
  'content.setExpiry': idempotent, // sets absolute values (a repeat emits one more ContentExpirySet, writes the same row)
  'content.getUsage': read,
  'content.setRetentionPolicy': idempotent, // absolute values
  'content.getRetentionPolicy': read,

  // queue
  'queue.enqueueJob': keyed((r) => Boolean(r.idempotencyKey)),
  // Every job keyed: a repeat answers EXISTING per job; one unkeyed job would be enqueued twice.
  'queue.enqueueJobs': keyed((r) => Array.isArray(r.jobs) && r.jobs.length > 0 && r.jobs.every((j: { idempotencyKey?: string }) => Boolean(j?.idempotencyKey))),
  'queue.completeJobs': idempotent, // per job fenced by (worker_id, attempt): a repeat answers REPEATED
  'queue.failJobs': idempotent,
  'queue.retryJob': idempotent, // a second retry of the same dead job finds it queued: FAILED_PRECONDITION, nothing written
  'queue.getQueueStats': read,
  'queue.getJob': read,
  'queue.listJobs': read,
  'queue.claimJobs': unsafe, // a lost answer would lease jobs nobody works on until the lease ends
  'queue.extendLease': idempotent,
  'queue.checkLeases': read, // writes nothing
  'queue.completeJob': idempotent, // fenced by (worker_id, attempt)
  'queue.failJob': idempotent, // fenced by (worker_id, attempt): a repeat cannot count a second failure
  'queue.cancelJob': idempotent,
  'queue.appendJobLog': unsafe, // a second log line
  'queue.listJobLogs': read,
  // A name is unique per tenant: a repeat after a lost success is ALREADY_EXISTS, never a second schedule.
  'queue.createSchedule': idempotent,
  'queue.deleteSchedule': idempotent, // a repeat is NOT_FOUND, nothing written
  'queue.listSchedules': read,
  'queue.pauseSchedule': idempotent, // a repeat finds it paused: returned as it is, nothing written
  'queue.resumeSchedule': idempotent, // a repeat finds it firing: returned as it is, nothing written
  'queue.updateSchedule': idempotent, // a repeat finds the values set: returned as it is (a payload is written again, the same)
  'queue.holdJobs': idempotent, // a repeat finds the key held: nothing moves (held_jobs 0)
  'queue.releaseJobs': idempotent, // a repeat finds the key released: nothing moves (released_jobs 0)
  'queue.listHolds': read,
  'queue.setGroupLimit': idempotent, // a repeat sets the value the setting has: nothing written
  'queue.listGroupLimits': read,

  // analytics
  'analytics.ingestEvents': keyed((r) => Array.isArray(r.events) && r.events.length > 0 && r.events.every((e: Keyed | undefined) => Boolean(e?.eventId))),
  'analytics.getCampaignMetrics': read,
  'analytics.getMailboxMetrics': read,
  'analytics.getSequenceStepMetrics': read,
  'analytics.getFreshness': read,
  'analytics.getTimeSeries': read,
  'analytics.getStepFunnel': read,
  'analytics.getMailboxHealth': read,
  'analytics.listMailboxHealth': read,
  'analytics.getTopCampaigns': read,
  'analytics.getReplyTiming': read,
  'analytics.getVariantMetrics': read,

  // grpc.health.v1 on every service
  'health.check': read,
});

/** The idempotency of `service.method` (unknown methods are `unsafe`). */
export function idempotencyOf(service: ServiceName | 'health', method: string): Idempotency {
  return IDEMPOTENCY[`${service}.${method}`] ?? unsafe;
}

/** True when this request (already through fromPartial) may be repeated. */
export function isRepeatable(service: ServiceName | 'health', method: string, request: unknown): boolean {
  const i = idempotencyOf(service, method);
  if (i.kind === 'read' || i.kind === 'idempotent') return true;
  if (i.kind === 'keyed') return i.hasKey(request ?? {});
  return false;
}

/** Codes that may be retried for a repeatable request. RESOURCE_EXHAUSTED never is. */
const RETRYABLE_CODES: ReadonlySet<number> = new Set([status.UNAVAILABLE, status.ABORTED]);

/** Whether a failure with `code` of this request may be retried. */
export function shouldRetry(code: number, service: ServiceName | 'health', method: string, request: unknown): boolean {
  return RETRYABLE_CODES.has(code) && isRepeatable(service, method, request);
}

/** The wait before retry `retry` (1 = the first retry): full jitter over an exponential cap. */
export function backoffMs(retry: number, policy: RetryPolicy, random: () => number = Math.random): number {
  const cap = Math.min(policy.maxBackoffMs, policy.initialBackoffMs * policy.multiplier ** (retry - 1));
  return Math.floor(random() * cap);
}

/**
 * Waits `ms`, or less if `signal` aborts. The abort listener goes when the wait ends either way:
 * a caller that waits again and again on one signal (a retry loop, an idle worker) would
 * otherwise pile listeners up on it for as long as the signal lives.
 */
export const sleep = (ms: number, signal?: AbortSignal) =>
  new Promise<void>((resolve) => {
    if (signal?.aborted) return resolve();
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    }
    signal?.addEventListener('abort', done, { once: true });
  });
