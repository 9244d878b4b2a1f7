import { Client, Metadata, status, type ServiceError } from '@grpc/grpc-js';
import { analyticsV1, contentV1, metadataV1, queueV1 } from '@penguinmails/contracts';
import { bearerTokenInterceptor, tracingClientInterceptor, tracingEnabled } from '@penguinmails/service-kit';
import { PenguinMailsError, toPenguinMailsError } from './errors';
import { backoffMs, shouldRetry, sleep } from './retry';
import type { ResolvedSettings, RetryPolicy, ServiceName } from './settings';

type Builtin = Date | Function | Uint8Array | string | number | boolean | bigint | undefined;

/**
 * ts-proto's `DeepPartial` (the generated code does not export it): every field optional,
 * int64 fields also as number or string. What `fromPartial` accepts.
 */
export type DeepPartial<T> = T extends bigint
  ? string | number | bigint
  : T extends Builtin
    ? T
    : T extends Array<infer U>
      ? Array<DeepPartial<U>>
      : T extends ReadonlyArray<infer U>
        ? ReadonlyArray<DeepPartial<U>>
        : T extends {}
          ? { [K in keyof T]?: DeepPartial<T[K]> }
          : Partial<T>;

/** Options of one call. */
export interface CallOptions {
  /** Deadline of this call, retries included (default: the platform's `deadlineMs`). */
  deadlineMs?: number;
  /** Cancels the call (and its retries); it rejects with CANCELLED. */
  signal?: AbortSignal;
  /** This call's retry policy, or `false` for one attempt only. */
  retry?: Partial<RetryPolicy> | false;
  /** Extra request metadata (headers). */
  metadata?: Record<string, string>;
}

type RequestOf<D> = D extends { requestSerialize: (value: infer R) => Buffer } ? R : never;
type ResponseOf<D> = D extends { responseDeserialize: (value: Buffer) => infer R } ? R : never;

/**
 * The typed client of one service: one promise-returning method per RPC, named as in the
 * generated code (`createUser`, `listCampaigns`, ...), each taking a `DeepPartial` request.
 */
export type ServiceApi<Def> = {
  [M in keyof Def]: (request?: DeepPartial<RequestOf<Def[M]>>, options?: CallOptions) => Promise<ResponseOf<Def[M]>>;
};

export type MetadataApi = ServiceApi<typeof metadataV1.MetadataServiceService>;
export type ContentApi = ServiceApi<typeof contentV1.ContentServiceService>;
export type QueueApi = ServiceApi<typeof queueV1.QueueServiceService>;
export type AnalyticsApi = ServiceApi<typeof analyticsV1.AnalyticsServiceService>;

/* eslint-disable @typescript-eslint/no-explicit-any -- the generated service definitions are
   generic over each RPC's own message types; the channel serialises whatever message the
   definition names, so these two boundary types stay `any` (the public API is typed per RPC). */
interface UnaryDefinition {
  path: string;
  requestStream: boolean;
  responseStream: boolean;
  requestSerialize: (value: any) => Buffer;
  responseDeserialize: (value: Buffer) => any;
}

interface MessageFns {
  fromPartial: (object: any) => any;
}
/* eslint-enable @typescript-eslint/no-explicit-any */

/** Each service: its definition and the namespace holding its request messages. */
export const SERVICE_DEFINITIONS: Record<ServiceName, { definition: Record<string, UnaryDefinition>; messages: Record<string, unknown> }> = {
  metadata: { definition: metadataV1.MetadataServiceService, messages: metadataV1 },
  content: { definition: contentV1.ContentServiceService, messages: contentV1 },
  queue: { definition: queueV1.QueueServiceService, messages: queueV1 },
  analytics: { definition: analyticsV1.AnalyticsServiceService, messages: analyticsV1 },
};

/**
 * The request message of a method: `/pkg.Service/CreateUser` → `CreateUserRequest` (buf's
 * STANDARD lint makes every RPC's request `<Rpc>Request`).
 */
function requestMessage(service: ServiceName, def: UnaryDefinition): MessageFns {
  const rpc = def.path.slice(def.path.lastIndexOf('/') + 1);
  const fns = SERVICE_DEFINITIONS[service].messages[`${rpc}Request`] as MessageFns | undefined;
  if (!fns || typeof fns.fromPartial !== 'function') throw new Error(`@penguinmails/sdk: no ${rpc}Request message for ${def.path}`);
  return fns;
}

/** Channel defaults: reconnect quickly after a service restarts (grpc-js waits up to 120 s otherwise). */
const CHANNEL_DEFAULTS = {
  'grpc.initial_reconnect_backoff_ms': 200,
  'grpc.max_reconnect_backoff_ms': 2_000,
};

/** A channel to one service and the machinery of every call on it (encode, deadline, retries, errors). */
export class ServiceChannel {
  readonly client: Client;

  constructor(
    readonly service: ServiceName,
    readonly settings: ResolvedSettings,
  ) {
    this.client = new Client(settings.addresses[service], settings.credentials, {
      ...CHANNEL_DEFAULTS,
      ...settings.channelOptions,
      // When the calling process started the kit's tracing (startTracing), each call is a
      // CLIENT span whose traceparent the services continue; otherwise nothing is added.
      interceptors: [...(settings.token ? [bearerTokenInterceptor(settings.token)] : []), ...(tracingEnabled() ? [tracingClientInterceptor()] : [])],
    });
  }

  /**
   * Sends one unary request: `request` goes through `fromPartial` first (so a missing field is
   * its proto default, never `undefined`), then is encoded once, and sent (again, for a
   * repeatable request failing with a retryable code) until the deadline.
   */
  async unary<Res>(
    rpcName: string,
    def: UnaryDefinition,
    partial: unknown,
    fromPartial: (object: any) => unknown, // eslint-disable-line @typescript-eslint/no-explicit-any -- see UnaryDefinition
    options: CallOptions = {},
    retryAs: { service: ServiceName | 'health'; method: string } = { service: this.service, method: rpcName },
  ): Promise<Res> {
    const rpc = `${retryAs.service === 'health' ? `${this.service}.health` : this.service}.${rpcName}`;
    let request: unknown;
    let bytes: Buffer;
    try {
      // Even a caller without types (plain JS, JSON from a file) gets the proto defaults here.
      request = fromPartial(partial ?? {});
      bytes = def.requestSerialize(request);
    } catch (err) {
      throw toPenguinMailsError(err, rpc);
    }
    const policy: RetryPolicy =
      options.retry === false ? { ...this.settings.retry, maxAttempts: 1 } : { ...this.settings.retry, ...options.retry };
    const deadline = Date.now() + (options.deadlineMs ?? this.settings.deadlineMs);
    for (let attempt = 1; ; attempt += 1) {
      try {
        return await this.once<Res>(def, bytes, deadline, options);
      } catch (err) {
        const code = (err as ServiceError).code;
        const retry =
          attempt < policy.maxAttempts && !options.signal?.aborted && typeof code === 'number' && shouldRetry(code, retryAs.service, retryAs.method, request);
        if (!retry) throw toPenguinMailsError(err, rpc, attempt);
        const wait = backoffMs(attempt, policy);
        // No retry that could not finish before the deadline: answer with the real failure now.
        if (Date.now() + wait >= deadline) throw toPenguinMailsError(err, rpc, attempt);
        await sleep(wait, options.signal);
      }
    }
  }

  private once<Res>(def: UnaryDefinition, bytes: Buffer, deadline: number, options: CallOptions): Promise<Res> {
    const md = new Metadata();
    for (const [k, v] of Object.entries(options.metadata ?? {})) md.set(k, v);
    return new Promise<Res>((resolve, reject) => {
      if (options.signal?.aborted) {
        reject(Object.assign(new Error('the call was cancelled'), { code: status.CANCELLED, details: 'the call was cancelled', metadata: new Metadata() }));
        return;
      }
      const call = this.client.makeUnaryRequest(
        def.path,
        (b: Buffer) => b,
        def.responseDeserialize,
        bytes,
        md,
        { deadline },
        (err, res) => {
          options.signal?.removeEventListener('abort', cancel);
          if (err) reject(err);
          else resolve(res as Res);
        },
      );
      const cancel = () => call.cancel();
      options.signal?.addEventListener('abort', cancel, { once: true });
    });
  }

  close(): void {
    this.client.close();
  }
}

/** Builds the typed API of one service over its channel. */
export function serviceApi<Api>(channel: ServiceChannel): Api {
  const api: Record<string, unknown> = {};
  const { definition } = SERVICE_DEFINITIONS[channel.service];
  for (const [method, def] of Object.entries(definition)) {
    if (def.requestStream || def.responseStream) continue; // every RPC of the platform is unary today
    const fns = requestMessage(channel.service, def);
    api[method] = (request?: unknown, options?: CallOptions) => channel.unary(method, def, request, fns.fromPartial, options);
  }
  return api as Api;
}

// grpc.health.v1.Health/Check, encoded by hand (two fields) so the SDK needs no proto loader.
export type HealthStatus = 'UNKNOWN' | 'SERVING' | 'NOT_SERVING' | 'SERVICE_UNKNOWN';
const HEALTH_STATUSES: HealthStatus[] = ['UNKNOWN', 'SERVING', 'NOT_SERVING', 'SERVICE_UNKNOWN'];

function readVarint(buf: Buffer, pos: number): [number, number] {
  let value = 0;
  let shift = 0;
  for (;;) {
    const byte = buf[pos++];
    if (byte === undefined) throw new Error('truncated varint');
    value += (byte & 0x7f) * 2 ** shift;
    if (byte < 0x80) return [value, pos];
    shift += 7;
  }
}

export const HEALTH_CHECK: UnaryDefinition = {
  path: '/grpc.health.v1.Health/Check',
  requestStream: false,
  responseStream: false,
  requestSerialize: (req: { service: string }) => {
    const name = Buffer.from(req.service ?? '', 'utf8');
    if (name.length === 0) return Buffer.alloc(0);
    if (name.length > 127) throw new Error('health service name too long');
    return Buffer.concat([Buffer.from([0x0a, name.length]), name]);
  },
  responseDeserialize: (buf: Buffer) => {
    let pos = 0;
    let statusNumber = 0;
    while (pos < buf.length) {
      const [tag, next] = readVarint(buf, pos);
      pos = next;
      if (tag === 0x08) [statusNumber, pos] = readVarint(buf, pos);
      else if ((tag & 7) === 0) [, pos] = readVarint(buf, pos);
      else if ((tag & 7) === 2) {
        const [len, p] = readVarint(buf, pos);
        pos = p + len;
      } else break;
    }
    return { status: HEALTH_STATUSES[statusNumber] ?? 'UNKNOWN' };
  },
};

export { PenguinMailsError };
