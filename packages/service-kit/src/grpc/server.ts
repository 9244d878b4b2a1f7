import { isUtf8 } from 'node:buffer';
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import {
  type ChannelOptions,
  Metadata,
  Server,
  ServerCredentials,
  ServerInterceptingCall,
  status as Status,
  type ServerInterceptor,
  type ServerReadableStream,
  type ServerUnaryCall,
  type ServerWritableStream,
  type ServiceDefinition,
  type UntypedServiceImplementation,
  type handleClientStreamingCall,
  type handleServerStreamingCall,
  type handleUnaryCall,
  type sendUnaryData,
} from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { ReflectionService } from '@grpc/reflection';
import { HealthImplementation, protoPath as healthProtoPath } from 'grpc-health-check';
import { BinaryReader, descriptorSetPath } from '@penguinmails/contracts';
import type { Logger } from 'pino';
import { runInCallScope } from '../call-scope';
import { defaultMetrics, type Metrics } from '../metrics';
import { InvalidArgumentError, PermissionDeniedError, UnauthenticatedError, asError } from '../errors';
import { bearerToken, parseAuthTokens, tokenKey, type Principal } from './auth';
import { MessageShapes, guardRequest } from './request-guard';
import { toServiceError } from './status';
import { endRpcSpan, runWithSpan, startServerSpan, traceLogFields } from '../tracing';
import type { Span } from '@opentelemetry/api';

/** What a handler gets besides its request. */
export interface CallContext {
  /** From the caller's `x-request-id` header, or generated; echoed back in response headers. */
  requestId: string;
  /** A child logger bound to `rpc` and `requestId`. */
  logger: Logger;
  /** When the call must be answered: the caller's deadline, capped by GRPC_MAX_CALL_MS. */
  deadline: Date;
  metadata: Metadata;
  /** Who the bearer token acts for; service scope when authentication is off. */
  principal: Principal;
  /** The call's server span when tracing is on (its trace_id/span_id are on `logger`'s lines). */
  span?: Span;
}

type UnaryFn<Req, Res> = (request: Req, ctx: CallContext) => Promise<Res>;
type StreamFn<Req, Res> = (request: Req, ctx: CallContext) => AsyncIterable<Res>;
/**
 * A client-streaming handler: reads the requests (each already admitted: decoded, guarded, and
 * the first one's tenant checked against the token) and answers once.
 */
type ClientStreamFn<Req, Res> = (requests: AsyncIterable<Req>, ctx: CallContext) => Promise<Res>;

/**
 * The handlers of a ts-proto `XxxServiceServer` interface written as plain async functions:
 * unary → `async (req, ctx) => res`; server streaming → `async function* (req, ctx)`;
 * client streaming → `async (requests, ctx) => res` (`for await (const req of requests)`).
 * Bidirectional streaming is not supported.
 */
export type Handlers<S> = {
  [K in keyof S as string extends K ? never : K]: S[K] extends handleClientStreamingCall<infer Req, infer Res>
    ? ClientStreamFn<Req, Res>
    : S[K] extends handleUnaryCall<infer Req, infer Res>
      ? UnaryFn<Req, Res>
      : S[K] extends handleServerStreamingCall<infer Req, infer Res>
        ? StreamFn<Req, Res>
        : never;
};

/** Transport limits a platform team sets per deployment (see commonSettings for the defaults). */
export interface GrpcLimits {
  /** Largest request message read; larger ones are refused by grpc-js with RESOURCE_EXHAUSTED. */
  maxReceiveBytes: number;
  /** Largest response message sent. */
  maxSendBytes: number;
  /** Concurrent calls on one HTTP/2 connection; more wait for a slot. */
  maxConcurrentStreams: number;
  /** How often the server pings an idle connection, and how long it waits for the answer before dropping a dead peer. */
  keepaliveTimeMs: number;
  keepaliveTimeoutMs: number;
}

/** The server settings a service passes through from its configuration ({@link grpcServerSettings}). */
export interface GrpcServerSettings {
  /**
   * AUTH_TOKENS entries: `<token>` or `*:<token>` (service scope, every tenant), or
   * `<tenant-uuid>|<tenant-uuid>:<token>` (only those tenants). Empty = authentication
   * disabled (development only).
   */
  authTokens?: string[];
  /** Cap (and default) for a call's deadline. */
  maxCallMs?: number;
  tls?: { cert: string; key: string; clientCa?: string };
  /** Serve grpc.reflection (grpcurl, Postman); a production deployment may switch it off. */
  reflection?: boolean;
  limits?: Partial<GrpcLimits>;
}

export interface GrpcServerOptions extends GrpcServerSettings {
  /** Service name for logs, e.g. "metadata". */
  service: string;
  /** google.rpc.ErrorInfo domain, e.g. "penguinmails.metadata". */
  errorDomain?: string;
  logger: Logger;
  /**
   * Methods (by name, e.g. `CreateTenant`) only a service-scope token may call: they act on no
   * existing tenant, so a tenant-bound token cannot be checked against one.
   */
  serviceScopeMethods?: string[];
  /** Where RPC metrics are recorded (default: the process's {@link defaultMetrics}). */
  metrics?: Metrics;
}

export const DEFAULT_GRPC_LIMITS: GrpcLimits = {
  maxReceiveBytes: 4 * 1024 * 1024,
  maxSendBytes: 4 * 1024 * 1024,
  maxConcurrentStreams: 100,
  keepaliveTimeMs: 60_000,
  keepaliveTimeoutMs: 20_000,
};

/** The largest response message a server with these settings sends (GRPC_MAX_SEND_BYTES). */
export function maxSendBytes(settings?: GrpcServerSettings): number {
  return settings?.limits?.maxSendBytes ?? DEFAULT_GRPC_LIMITS.maxSendBytes;
}

/** grpc-js channel options for {@link GrpcLimits}. */
function channelOptions(l: GrpcLimits): ChannelOptions {
  return {
    'grpc.max_receive_message_length': l.maxReceiveBytes,
    'grpc.max_send_message_length': l.maxSendBytes,
    'grpc.max_concurrent_streams': l.maxConcurrentStreams,
    'grpc.keepalive_time_ms': l.keepaliveTimeMs,
    'grpc.keepalive_timeout_ms': l.keepaliveTimeoutMs,
    // Clients that ping idle connections (grpc-go, grpc-java defaults) are not punished for it.
    'grpc.keepalive_permit_without_calls': 1,
  };
}

const SERVICE_SCOPE: Principal = { scope: 'service' };
/** Marks a request whose bytes did not decode; the handler wrapper answers INVALID_ARGUMENT. */
const UNDECODABLE = Symbol('undecodable request');
type Undecodable = { [UNDECODABLE]: string };
const isUndecodable = (r: unknown): r is Undecodable => typeof r === 'object' && r !== null && UNDECODABLE in r;

const utf8 = new TextDecoder('utf-8', { fatal: false, ignoreBOM: true });
/**
 * Protobuf strings must be UTF-8. The generated decoder would quietly turn a malformed byte
 * sequence (or an encoded lone surrogate) into U+FFFD and store text the caller never sent.
 * Instead each replacement becomes a lone surrogate, which no decoded text can otherwise hold,
 * and the request guard refuses it naming the field.
 *
 * `isUtf8` (node:buffer, simdutf) instead of a `fatal: true` TextDecoder in a try: the fatal
 * decoder throws per malformed string, and a hostile 6.5 MB BatchPutContent of 24,000 such
 * strings (fuzz seed 1128) took 550-650 ms to decode that way against 200-350 ms (scratch
 * measurement, 5 rounds); valid text decodes at the same speed either way (~1 ms for an
 * EnqueueJobs of 1,000 jobs).
 */
function decodeUtf8MarkingInvalid(bytes: Uint8Array): string {
  const text = utf8.decode(bytes);
  return isUtf8(bytes) ? text : text.replaceAll('\uFFFD', '\uDFFF');
}

/**
 * The package definition reflection is built from, with each file's descriptor once.
 *
 * Why not the whole definition: @grpc/reflection 1.0.4 decodes every `fileDescriptorProtos`
 * entry of every type it is given (and does it twice, for v1 and v1alpha), and proto-loader
 * gives each of our 296 types the encoded files of its whole dependency set: 2,044 entries of
 * only 7 distinct buffers. Building reflection took 310-450 ms of every server's start
 * (measured 2026-11-27 on the contracts' descriptor set). Reflection only reads the entries'
 * files, keyed by file name, so one entry with each distinct buffer once indexes the same files.
 */
export function reflectionFiles(pkg: protoLoader.PackageDefinition): protoLoader.PackageDefinition {
  const files = new Set<Buffer>();
  for (const def of Object.values(pkg)) {
    const protos = (def as { fileDescriptorProtos?: Buffer[] }).fileDescriptorProtos;
    for (const bin of protos ?? []) files.add(bin);
  }
  return { '(reflection files)': { format: 'Protocol Buffer 3 DescriptorProto', type: {}, fileDescriptorProtos: [...files] } } as unknown as protoLoader.PackageDefinition;
}

/** Methods that answer without a token: probes and tooling must work before auth is set up. */
const PUBLIC_PREFIXES = ['/grpc.health.v1.Health/', '/grpc.reflection.'];

/**
 * Rejects calls without a valid `authorization: Bearer <token>` with UNAUTHENTICATED, before
 * the request message is even read. Registered once on the server, for every service.
 * Which tenants the token may act for is checked per call, once the request is decoded.
 */
export function bearerAuthInterceptor(principals: ReadonlyMap<string, Principal>, errorDomain = 'penguinmails'): ServerInterceptor {
  return (methodDescriptor, call) =>
    new ServerInterceptingCall(call, {
      start: (next) => {
        next({
          onReceiveMetadata: (metadata, mdNext) => {
            if (principals.size === 0 || PUBLIC_PREFIXES.some((p) => methodDescriptor.path.startsWith(p))) return mdNext(metadata);
            const token = bearerToken(metadata);
            if (token && principals.has(tokenKey(token))) return mdNext(metadata);
            // The same google.rpc.Status (ErrorInfo reason and domain) as every other refusal.
            const err = toServiceError(
              new UnauthenticatedError(
                token
                  ? 'the bearer token is not accepted; send `authorization: Bearer <token>` with a token from AUTH_TOKENS'
                  : 'missing `authorization: Bearer <token>` metadata',
              ),
              errorDomain,
            );
            call.sendStatus({ code: err.code, details: err.details, metadata: err.metadata ?? new Metadata() });
          },
        });
      },
    });
}

/**
 * One gRPC server with what every service needs: standard health (grpc.health.v1), server
 * reflection, bearer-token auth, request ids, deadlines, access logs, one error mapping, and
 * graceful shutdown. Services add their own definitions with {@link GrpcServer.addService}.
 */
export class GrpcServer {
  readonly server: Server;
  readonly health: HealthImplementation;
  private readonly serviceNames: string[] = [];
  private readonly maxCallMs: number;
  private readonly errorDomain: string;
  private readonly principals: Map<string, Principal>;
  private readonly serviceScopeMethods: Set<string>;
  private readonly pkg: protoLoader.PackageDefinition;
  private readonly shapes: MessageShapes;
  private inFlight = 0;
  private stopping = false;
  private readonly metrics: Metrics;

  constructor(private readonly opts: GrpcServerOptions) {
    this.maxCallMs = opts.maxCallMs ?? 30_000;
    this.metrics = opts.metrics ?? defaultMetrics();
    this.errorDomain = opts.errorDomain ?? `penguinmails.${opts.service}`;
    this.principals = parseAuthTokens(opts.authTokens ?? []);
    this.serviceScopeMethods = new Set(opts.serviceScopeMethods ?? []);
    // The contracts' descriptors name every field of every request, for the request guard,
    // and serve reflection.
    this.pkg = protoLoader.loadFileDescriptorSetFromBuffer(readFileSync(descriptorSetPath));
    this.shapes = new MessageShapes(this.pkg);
    const limits = { ...DEFAULT_GRPC_LIMITS, ...opts.limits };
    this.server = new Server({ ...channelOptions(limits), interceptors: [bearerAuthInterceptor(this.principals, this.errorDomain)] });
    // '' is the overall status probes ask for; NOT_SERVING until `setServing(true)`.
    this.health = new HealthImplementation({ '': 'NOT_SERVING' });
    this.health.addToServer(this.server);
  }

  /** Registers a service. `name` is its fully-qualified proto name (for health and reflection). */
  addService<S>(name: string, definition: ServiceDefinition, handlers: Handlers<S>): this {
    const impl: UntypedServiceImplementation = {};
    const guarded: Record<string, ServiceDefinition[string]> = {};
    const methods = (this.pkg[name] ?? {}) as Record<string, { requestType?: { type?: { name?: string } } } | undefined>;
    for (const [method, def] of Object.entries(definition)) {
      const fn = (handlers as Record<string, unknown>)[method];
      if (typeof fn !== 'function') throw new Error(`${name}: no handler for ${method}`);
      if (def.requestStream && def.responseStream) throw new Error(`${name}.${method}: bidirectional streaming is not supported by this kit`);
      const protoMethod = def.path.slice(def.path.lastIndexOf('/') + 1);
      const requestType = `${name.slice(0, name.lastIndexOf('.'))}.${methods[protoMethod]?.requestType?.type?.name ?? ''}`;
      const type = def.requestStream ? 'client_stream' : def.responseStream ? 'server_stream' : 'unary';
      const call: CallShape = { path: def.path, method: protoMethod, requestType, labels: { grpc_type: type, grpc_service: name, grpc_method: protoMethod } };
      impl[method] = def.requestStream
        ? this.wrapClientStream(call, fn as ClientStreamFn<unknown, unknown>)
        : def.responseStream
          ? this.wrapServerStream(call, fn as StreamFn<unknown, unknown>)
          : this.wrapUnary(call, fn as UnaryFn<unknown, unknown>);
      // grpc-js answers INTERNAL when a request does not decode. Bytes a client sent are the
      // client's mistake: mark them, and the wrapper answers INVALID_ARGUMENT instead.
      guarded[method] = {
        ...def,
        requestDeserialize: (bytes: Buffer) => {
          try {
            // ts-proto's decode takes a reader too; ours marks invalid UTF-8 for the guard.
            return def.requestDeserialize(new BinaryReader(bytes, decodeUtf8MarkingInvalid) as unknown as Buffer);
          } catch (err) {
            return { [UNDECODABLE]: asError(err).message } satisfies Undecodable;
          }
        },
      };
    }
    this.server.addService(guarded as ServiceDefinition, impl);
    this.serviceNames.push(name);
    this.health.setStatus(name, 'NOT_SERVING');
    return this;
  }

  /**
   * Flips every registered service (and the overall status '') between SERVING and
   * NOT_SERVING. Once shutdown has begun the server stays NOT_SERVING.
   */
  setServing(serving: boolean): void {
    const s = serving && !this.stopping ? 'SERVING' : 'NOT_SERVING';
    this.health.setStatus('', s);
    for (const n of this.serviceNames) this.health.setStatus(n, s);
  }

  /** Binds, adds reflection, and resolves with the bound port (0 picks a free one). */
  async listen(host: string, port: number): Promise<number> {
    if (this.opts.reflection !== false) {
      const pkg = reflectionFiles({ ...this.pkg, ...protoLoader.loadSync(healthProtoPath) });
      new ReflectionService(pkg, { services: [...this.serviceNames, 'grpc.health.v1.Health'] }).addToServer(this.server);
    }
    const creds = this.opts.tls
      ? ServerCredentials.createSsl(
          this.opts.tls.clientCa ? readFileSync(this.opts.tls.clientCa) : null,
          [{ cert_chain: readFileSync(this.opts.tls.cert), private_key: readFileSync(this.opts.tls.key) }],
          Boolean(this.opts.tls.clientCa),
        )
      : ServerCredentials.createInsecure();
    const bound = await new Promise<number>((resolve, reject) => {
      this.server.bindAsync(`${host}:${port}`, creds, (err, p) => {
        if (!err) return resolve(p);
        const inUse = /EADDRINUSE|address already in use/i.test(err.message);
        reject(
          new Error(
            inUse
              ? `port ${port} on ${host} is already in use; stop the other process or set GRPC_PORT to a free port`
              : `cannot listen on ${host}:${port}: ${err.message}`,
            { cause: err },
          ),
        );
      });
    });
    this.setServing(true);
    this.opts.logger.info({ host, port: bound, services: this.serviceNames, tls: Boolean(this.opts.tls) }, 'gRPC server listening');
    return bound;
  }

  /**
   * NOT_SERVING first (load balancers stop routing), then let in-flight calls finish for up
   * to `graceMs`, then cut what is left.
   */
  async shutdown(graceMs = 10_000): Promise<void> {
    this.stopping = true;
    this.setServing(false);
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        this.opts.logger.warn({ inFlight: this.inFlight }, 'grace period over; forcing gRPC shutdown');
        this.server.forceShutdown();
        resolve();
      }, graceMs);
      timer.unref();
      this.server.tryShutdown(() => {
        clearTimeout(timer);
        resolve();
      });
    });
  }

  private context(
    path: string,
    call: ServerUnaryCall<unknown, unknown> | ServerWritableStream<unknown, unknown> | ServerReadableStream<unknown, unknown>,
  ) {
    // The caller's request id is echoed in headers and logs: keep it short and printable.
    const given = String(call.metadata.get('x-request-id')[0] ?? '');
    const requestId = /^[\x21-\x7e]{1,128}$/.test(given) ? given : randomUUID();
    // Tracing on: the server span (child of the caller's traceparent), and its ids on every log line of the call.
    const span = startServerSpan(path, call.metadata, requestId);
    const logger = this.opts.logger.child({ rpc: path, requestId, ...traceLogFields(span) });
    const callerDeadline = call.getDeadline();
    const callerMs = callerDeadline instanceof Date ? callerDeadline.getTime() : Number(callerDeadline);
    const deadlineMs = Math.min(Number.isFinite(callerMs) ? callerMs : Infinity, Date.now() + this.maxCallMs);
    const abort = new AbortController();
    const timer = setTimeout(() => abort.abort(Object.assign(new Error('deadline exceeded'), { name: 'AbortError' })), Math.max(0, deadlineMs - Date.now()));
    timer.unref();
    (call as NodeJS.EventEmitter).on('cancelled', () => abort.abort(Object.assign(new Error('cancelled by the caller'), { name: 'AbortError' })));
    const header = new Metadata();
    header.set('x-request-id', requestId);
    call.sendMetadata(header);
    const token = this.principals.size ? bearerToken(call.metadata) : undefined;
    const principal = (token && this.principals.get(tokenKey(token))) || SERVICE_SCOPE;
    const ctx: CallContext = { requestId, logger, deadline: new Date(deadlineMs), metadata: call.metadata, principal, span };
    return { ctx, timer, abort };
  }

  /**
   * What every request passes before its handler: it decoded, its text and timestamps can be
   * stored, and the token may act for its tenant. Throws the domain error to answer with.
   */
  private admit(shape: CallShape, request: unknown, principal: Principal, checkTenant = true): void {
    if (isUndecodable(request))
      throw new InvalidArgumentError([
        { field: '', reason: 'MALFORMED_MESSAGE', description: `the request is not a valid ${shape.requestType} message (${request[UNDECODABLE]})` },
      ]);
    if (checkTenant && principal.scope === 'tenants') {
      if (this.serviceScopeMethods.has(shape.method))
        throw new PermissionDeniedError(`${shape.method} needs a token with service scope; this token is bound to tenants`);
      const tenantId = String((request as { tenantId?: unknown }).tenantId ?? '').toLowerCase();
      if (!principal.tenants.has(tenantId))
        throw new PermissionDeniedError(
          tenantId
            ? `this token may not act for tenant_id ${JSON.stringify(tenantId.slice(0, 64).toWellFormed())}; it is bound to other tenants`
            : 'tenant_id is required: this token is bound to tenants and may act only for them',
        );
    }
    const violations = guardRequest(request, shape.requestType, this.shapes);
    if (violations.length) throw new InvalidArgumentError(violations);
  }

  /** Runs a handler in the call's scope (deadline, cancellation) and, when tracing is on, in its server span. */
  private inScope<T>(ctx: CallContext, signal: AbortSignal, fn: () => Promise<T>): Promise<T> {
    return runWithSpan(ctx.span, () => runInCallScope({ deadline: ctx.deadline, signal }, fn));
  }

  /** Counts the call as started (RED metrics); returns its start time for {@link finish}. */
  private begin(shape: CallShape): number {
    this.metrics.grpcStarted.inc(shape.labels);
    return performance.now();
  }

  private finish(shape: CallShape, ctx: CallContext, started: number, err?: unknown) {
    const elapsed = performance.now() - started;
    const ms = Math.round(elapsed);
    this.metrics.grpcHandling.observe(shape.labels, elapsed / 1000);
    if (!err) {
      this.metrics.grpcHandled.inc({ ...shape.labels, grpc_code: 'OK' });
      endRpcSpan(ctx.span, Status.OK);
      return ctx.logger.info({ ms, code: 'OK' }, 'rpc');
    }
    const se = toServiceError(err, this.errorDomain, ctx.requestId);
    endRpcSpan(ctx.span, se.code, se.details);
    this.metrics.grpcHandled.inc({ ...shape.labels, grpc_code: grpcCodeLabel(se.code) });
    const level = se.code === Status.INTERNAL || se.code === Status.UNAVAILABLE ? 'error' : 'info';
    ctx.logger[level]({ ms, code: Status[se.code], err: level === 'error' ? asError(err) : undefined, details: se.details }, 'rpc');
    return se;
  }

  private wrapUnary(shape: CallShape, fn: UnaryFn<unknown, unknown>): handleUnaryCall<unknown, unknown> {
    return (call: ServerUnaryCall<unknown, unknown>, callback: sendUnaryData<unknown>) => {
      const started = this.begin(shape);
      const { ctx, timer, abort } = this.context(shape.path, call);
      this.inFlight++;
      // Race the handler against the deadline: the caller gets DEADLINE_EXCEEDED on time even
      // if the work (which sees the call scope's signal) is still winding down.
      const aborted = new Promise<never>((_, reject) =>
        abort.signal.addEventListener('abort', () => reject(abort.signal.reason), { once: true }),
      );
      aborted.catch(() => undefined);
      // The handler runs in the call's scope: withTransaction and the ClickHouse client read
      // the deadline from it, so the stores stop when the caller stops waiting.
      const work = this.inScope(ctx, abort.signal, async () => {
        this.admit(shape, call.request, ctx.principal);
        return fn(call.request, ctx);
      });
      Promise.race([work, aborted]).then(
        (res) => {
          clearTimeout(timer);
          this.inFlight--;
          this.finish(shape, ctx, started);
          return callback(null, res);
        },
        (err) => {
          clearTimeout(timer);
          this.inFlight--;
          return callback(this.finish(shape, ctx, started, err) as never);
        },
      );
    };
  }

  /**
   * Client streaming: the handler reads the requests as an async iterable. Every message passes
   * the request guard; the first one also the tenant check (a stream acts for one tenant: the
   * handler must refuse a later message naming another). Deadline and cancellation work as for
   * unary calls (the handler runs in the call scope and the answer races the deadline), and a
   * message refused by the guard fails the call even if the handler swallowed the error.
   */
  private wrapClientStream(shape: CallShape, fn: ClientStreamFn<unknown, unknown>): handleClientStreamingCall<unknown, unknown> {
    return (call: ServerReadableStream<unknown, unknown>, callback: sendUnaryData<unknown>) => {
      const started = this.begin(shape);
      const { ctx, timer, abort } = this.context(shape.path, call);
      this.inFlight++;
      const aborted = new Promise<never>((_, reject) =>
        abort.signal.addEventListener('abort', () => reject(abort.signal.reason), { once: true }),
      );
      aborted.catch(() => undefined);
      let refused: unknown;
      const admit = (request: unknown, first: boolean) => {
        try {
          this.admit(shape, request, ctx.principal, first);
        } catch (err) {
          refused ??= err;
          throw err;
        }
      };
      async function* requests(): AsyncIterable<unknown> {
        let first = true;
        for await (const request of call) {
          if (abort.signal.aborted) throw abort.signal.reason;
          admit(request, first);
          first = false;
          yield request;
        }
        if (abort.signal.aborted) throw abort.signal.reason;
      }
      const work = this.inScope(ctx, abort.signal, async () => {
        const res = await fn(requests(), ctx);
        if (refused !== undefined) throw refused;
        return res;
      });
      Promise.race([work, aborted]).then(
        (res) => {
          clearTimeout(timer);
          this.inFlight--;
          this.finish(shape, ctx, started);
          return callback(null, res);
        },
        (err) => {
          clearTimeout(timer);
          this.inFlight--;
          return callback(this.finish(shape, ctx, started, err) as never);
        },
      );
    };
  }

  private wrapServerStream(shape: CallShape, fn: StreamFn<unknown, unknown>): handleServerStreamingCall<unknown, unknown> {
    return (call: ServerWritableStream<unknown, unknown>) => {
      const started = this.begin(shape);
      const { ctx, timer, abort } = this.context(shape.path, call);
      this.inFlight++;
      void this.inScope(ctx, abort.signal, async () => {
        try {
          this.admit(shape, call.request, ctx.principal);
          for await (const item of fn(call.request, ctx)) {
            if (abort.signal.aborted) throw abort.signal.reason;
            // Respect backpressure: wait for the socket to drain before producing more.
            if (!call.write(item)) await new Promise((r) => call.once('drain', r));
          }
          this.finish(shape, ctx, started);
          call.end();
        } catch (err) {
          call.emit('error', this.finish(shape, ctx, started, err));
        } finally {
          clearTimeout(timer);
          this.inFlight--;
        }
      });
    };
  }
}

/**
 * A status code as grpc-go names it (`NotFound`, `Canceled`): the `grpc_code` values the
 * grpc-ecosystem dashboards and alerts expect.
 */
export function grpcCodeLabel(code: Status): string {
  if (code === Status.OK) return 'OK';
  if (code === Status.CANCELLED) return 'Canceled';
  const name = Status[code] ?? 'UNKNOWN';
  return name
    .toLowerCase()
    .split('_')
    .map((w) => w[0]!.toUpperCase() + w.slice(1))
    .join('');
}

/** What the wrappers know of a method. */
interface CallShape {
  /** `/penguinmails.metadata.v1.MetadataService/CreateUser` */
  path: string;
  /** `CreateUser` */
  method: string;
  /** `penguinmails.metadata.v1.CreateUserRequest` */
  requestType: string;
  /** grpc_type, grpc_service, grpc_method of its metrics. */
  labels: { grpc_type: string; grpc_service: string; grpc_method: string };
}

export function createGrpcServer(opts: GrpcServerOptions): GrpcServer {
  return new GrpcServer(opts);
}
