import {
  HEALTH_CHECK,
  ServiceChannel,
  serviceApi,
  type AnalyticsApi,
  type CallOptions,
  type ContentApi,
  type HealthStatus,
  type MetadataApi,
  type QueueApi,
} from './client';
import { PenguinMailsError } from './errors';
import {
  getMessageWithBody,
  receiveMessage,
  sendMessage,
  type IngestResult,
  type MessageWithBody,
  type ReceiveMessageArgs,
  type SendMessageArgs,
} from './flows';
import { SERVICE_NAMES, mergeSettings, resolveSettings, settingsFromEnv, type PlatformSettings, type ResolvedSettings, type ServiceName } from './settings';
import { enqueueMany, type EnqueueManyOptions, type EnqueueManyResult } from './enqueue';
import { createEventBatcher, type EventBatcher, type EventBatcherOptions } from './event-batcher';
import { sendJobsLoop, type JobHandler, type LeanJob, type LeanJobHandler, type SendJobsOptions, type SendJobsWorker } from './worker';

/** One service's answer to a health check. */
export interface ServiceHealth {
  service: ServiceName;
  address: string;
  /** SERVING, NOT_SERVING, ..., or `UNAVAILABLE` when nothing answered. */
  status: HealthStatus | 'UNAVAILABLE';
  /** Why, when it did not answer. */
  error?: string;
}

/**
 * The platform as one object: a typed client per service (`metadata`, `content`, `queue`,
 * `analytics`), the message flows, the send-job worker and health. Build it with
 * {@link createPlatform}; `close()` when done.
 */
export class PenguinMails {
  readonly settings: ResolvedSettings;
  readonly metadata: MetadataApi;
  readonly content: ContentApi;
  readonly queue: QueueApi;
  readonly analytics: AnalyticsApi;
  private readonly channels: Record<ServiceName, ServiceChannel>;

  constructor(settings: PlatformSettings = {}) {
    this.settings = resolveSettings(settings);
    this.channels = {} as Record<ServiceName, ServiceChannel>;
    for (const name of SERVICE_NAMES) this.channels[name] = new ServiceChannel(name, this.settings);
    this.metadata = serviceApi<MetadataApi>(this.channels.metadata);
    this.content = serviceApi<ContentApi>(this.channels.content);
    this.queue = serviceApi<QueueApi>(this.channels.queue);
    this.analytics = serviceApi<AnalyticsApi>(this.channels.analytics);
  }

  /** Records an outbound message (body, attachments, ref) in one idempotent call; see {@link sendMessage}. */
  sendMessage(args: SendMessageArgs): Promise<IngestResult> {
    return sendMessage(this, args);
  }

  /** Records an inbound reply, bounce or auto-reply, linked by In-Reply-To / References; see {@link receiveMessage}. */
  receiveMessage(args: ReceiveMessageArgs): Promise<IngestResult> {
    return receiveMessage(this, args);
  }

  /** A message ref with its body (absent once expired or deleted) and its thread; see {@link getMessageWithBody}. */
  getMessageWithBody(tenantId: string, messageId: string, options?: CallOptions & { thread?: boolean }): Promise<MessageWithBody> {
    return getMessageWithBody(this, tenantId, messageId, options);
  }

  /** Enqueues any number of one tenant's jobs, `batchSize` per EnqueueJobs call and `inFlight` calls at once; see {@link enqueueMany}. */
  enqueueMany(opts: EnqueueManyOptions): Promise<EnqueueManyResult> {
    return enqueueMany(this.queue, opts);
  }

  /** Batches single events (opens, clicks, ...) into IngestEvents calls; `track` resolves once stored. See {@link createEventBatcher}. */
  eventBatcher(opts?: EventBatcherOptions): EventBatcher {
    return createEventBatcher(this.analytics, opts);
  }

  /** Starts a worker loop that claims, runs and completes/fails the jobs of one queue; see {@link processSendJobs}. */
  processSendJobs(opts: SendJobsOptions & { lean?: false }, handler: JobHandler): SendJobsWorker;
  processSendJobs(opts: SendJobsOptions<LeanJob>, handler: LeanJobHandler): SendJobsWorker;
  processSendJobs(opts: SendJobsOptions<LeanJob> | SendJobsOptions, handler: LeanJobHandler | JobHandler): SendJobsWorker {
    return sendJobsLoop(this.queue, opts, handler);
  }

  /** grpc.health.v1 Check of each service (or the ones named); never rejects. */
  async health(services: readonly ServiceName[] = SERVICE_NAMES, options: CallOptions = {}): Promise<ServiceHealth[]> {
    return Promise.all(
      services.map(async (service) => {
        const address = this.settings.addresses[service];
        try {
          const res = await this.channels[service].unary<{ status: HealthStatus }>(
            'check',
            HEALTH_CHECK,
            { service: '' },
            (o) => ({ service: String(o?.service ?? '') }),
            { deadlineMs: 3_000, retry: false, ...options },
            { service: 'health', method: 'check' },
          );
          return { service, address, status: res.status };
        } catch (err) {
          const e = err instanceof PenguinMailsError ? err : undefined;
          return { service, address, status: 'UNAVAILABLE' as const, error: e ? e.describe() : String(err) };
        }
      }),
    );
  }

  /** Closes the four channels. */
  close(): void {
    for (const channel of Object.values(this.channels)) channel.close();
  }
}

/**
 * Builds a {@link PenguinMails}. Settings come from `settings`, over the environment
 * (`PM_METADATA_URL`, `PM_TOKEN`, ...; see {@link settingsFromEnv}), over the defaults
 * (localhost:50051-50054, no token, plaintext, 10 s deadline, 5 attempts for safe calls).
 * Pass `{ env: {} }` as the second argument to ignore the environment.
 */
export function createPlatform(settings: PlatformSettings = {}, opts: { env?: NodeJS.ProcessEnv } = {}): PenguinMails {
  return new PenguinMails(mergeSettings(settingsFromEnv(opts.env ?? process.env), settings));
}
