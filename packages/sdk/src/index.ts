/**
 * @penguinmails/sdk: the TypeScript SDK of the PenguinMails data platform.
 *
 * ```ts
 * import { createPlatform, PenguinMailsError } from '@penguinmails/sdk';
 *
 * const pm = createPlatform({ token: process.env.PM_TOKEN }); // + PM_METADATA_URL, ... from the env
 * const { tenant } = await pm.metadata.createTenant({ name: 'Acme' });
 * const { campaigns } = await pm.metadata.listCampaigns({ tenantId: tenant!.id });
 * try {
 *   await pm.metadata.getTenant({ tenantId: 'nope' });
 * } catch (err) {
 *   if (err instanceof PenguinMailsError) console.log(err.codeName, err.fieldViolations); // INVALID_ARGUMENT [{ field: 'tenant_id', ... }]
 * }
 * pm.close();
 * ```
 *
 * - **Typed calls**: `pm.metadata`, `pm.content`, `pm.queue`, `pm.analytics` have one method per
 *   RPC of the generated service definitions, taking a `DeepPartial` request. Every request goes
 *   through ts-proto's `fromPartial` before it is encoded, so a field a caller leaves out (even a
 *   plain-JS caller) is sent as its proto default (`''`, `0`, the UNSPECIFIED enum), never as
 *   `"undefined"` or an invalid enum.
 * - **Deadlines**: every call has one (default 10 s, retries included).
 * - **Retries**: with exponential backoff and full jitter, only where a repeat cannot write twice
 *   (reads, idempotent writes, writes carrying their idempotency key), only on UNAVAILABLE and
 *   ABORTED, never on RESOURCE_EXHAUSTED. The per-method table is {@link IDEMPOTENCY}.
 * - **Errors**: every failure is a {@link PenguinMailsError} (code, code name, message, field
 *   violations and the other google.rpc details).
 * - **Flows**: {@link PenguinMails.sendMessage}, {@link PenguinMails.receiveMessage},
 *   {@link PenguinMails.getMessageWithBody}, {@link PenguinMails.processSendJobs}.
 *
 * @packageDocumentation
 */
export { PenguinMails, createPlatform } from './platform';
export type { ServiceHealth } from './platform';
export {
  ADDRESS_ENV,
  DEFAULT_DEADLINE_MS,
  DEFAULT_PORTS,
  DEFAULT_RETRY_POLICY,
  SERVICE_NAMES,
  SettingsError,
  mergeSettings,
  normalizeAddress,
  resolveSettings,
  settingsFromEnv,
} from './settings';
export type { PlatformSettings, ResolvedSettings, RetryPolicy, ServiceName, TlsSettings } from './settings';
export { PenguinMailsError, codeName, toPenguinMailsError } from './errors';
export type { FieldViolation } from './errors';
export { IDEMPOTENCY, backoffMs, idempotencyOf, isRepeatable, shouldRetry } from './retry';
export type { Idempotency } from './retry';
export type { AnalyticsApi, CallOptions, ContentApi, DeepPartial, HealthStatus, MetadataApi, QueueApi, ServiceApi } from './client';
export { contentStateName, getMessageWithBody, messageFieldsFromJob, receiveMessage, sendMessage } from './flows';
export type {
  FlowServices,
  InboundKind,
  IngestResult,
  MessageAttachmentPartial,
  MessageBodyPartial,
  MessageBodyView,
  MessageInputPartial,
  MessageWithBody,
  ReceiveMessageArgs,
  SendMessageArgs,
} from './flows';
export { EnqueueManyError, enqueueMany } from './enqueue';
export type { EnqueueManyOptions, EnqueueManyResult } from './enqueue';
export { createEventBatcher } from './event-batcher';
export type { EventBatcher, EventBatcherOptions } from './event-batcher';
export { JobFailure, processSendJobs } from './worker';
export type { JobContext, JobHandler, LeanJob, LeanJobHandler, SendJobsOptions, SendJobsWorker, WorkerStats } from './worker';
export { findStackFile, pidAlive, readStackFile } from './stack-file';
export type { StackDiscovery, StackFile } from './stack-file';
/** The generated messages and enums, for building requests and reading answers. */
export { analyticsV1, campaignHoldKey, commonV1, contentV1, metadataV1, queueV1 } from '@penguinmails/contracts';
