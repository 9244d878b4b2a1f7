import { randomUUID, timingSafeEqual } from 'node:crypto';
import { readFileSync } from 'node:fs';
import {
  type ChannelOptions,
  Metadata,
  Server,
  ServerCredentials,
  ServerInterceptingCall,
  status as Status,
  type ServerInterceptor,
  type ServerUnaryCall,
  type ServerWritableStream,
  type ServiceDefinition,
  type UntypedServiceImplementation,
  type handleServerStreamingCall,
  type handleUnaryCall,
  type sendUnaryData,
} from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { ReflectionService } from '@grpc/reflection';
import { HealthImplementation, protoPath as healthProtoPath } from 'grpc-health-check';
import type { Logger } from 'pino';
import { asError } from '../errors';
import { toServiceError } from './status';

/** What a handler gets besides its request. */
export interface CallContext {
  /** From the caller's `x-request-id` header, or generated; echoed back in response headers. */
  requestId: string;
  /** A child logger bound to `rpc` and `requestId`. */
  logger: Logger;
  /** When the call must be answered: the caller's deadline, capped by GRPC_MAX_CALL_MS. */
  deadline: Date;
  /** Aborted when the deadline passes or the caller cancels; pass it to long work. */
  signal: AbortSignal;
  metadata: Metadata;
}

type UnaryFn<Req, Res> = (request: Req, ctx: CallContext) => Promise<Res>;
type StreamFn<Req, Res> = (request: Req, ctx: CallContext) => AsyncIterable<Res>;

/**
 * The handlers of a ts-proto `XxxServiceServer` interface written as plain async functions:
 * unary → `async (req, ctx) => res`; server streaming → `async function* (req, ctx)`.
 */
export type Handlers<S> = {
  [K in keyof S as string extends K ? never : K]: S[K] extends handleUnaryCall<infer Req, infer Res>
    ? UnaryFn<Req, Res>
    : S[K] extends handleServerStreamingCall<infer Req, infer Res>
      ? StreamFn<Req, Res>
      : never;
};

export interface GrpcServerOptions {
  /** Service name for logs, e.g. "metadata". */
  service: string;
  /** google.rpc.ErrorInfo domain, e.g. "penguinmails.metadata". */
  errorDomain?: string;
  logger: Logger;
  /** Accepted bearer tokens; empty = authentication disabled (development only). */
  authTokens: string[];
  /** FileDescriptorSet for server reflection (from @penguinmails/contracts). */
  descriptorSetPath?: string;
  /** Cap (and default) for a call's deadline. */
  maxCallMs?: number;
  tls?: { cert: string; key: string; clientCa?: string };
  /** grpc-js server options, e.g. `'grpc.max_receive_message_length'` for services that take large payloads. */
  serverOptions?: ChannelOptions;
}

/** Methods that answer without a token: probes and tooling must work before auth is set up. */
const PUBLIC_PREFIXES = ['/grpc.health.v1.Health/', '/grpc.reflection.'];

/**
 * Rejects calls without a valid `authorization: Bearer <token>` with UNAUTHENTICATED, before
 * the request message is even read. Registered once on the server, for every service.
 */
export function bearerAuthInterceptor(tokens: string[]): ServerInterceptor {
  const accepted = tokens.map((t) => Buffer.from(t));
  const ok = (presented: string): boolean => {
    const b = Buffer.from(presented);
    // Compare against every token in constant time per token so timing leaks nothing.
    return accepted.reduce((found, t) => (t.length === b.length && timingSafeEqual(t, b)) || found, false);
  };
  return (methodDescriptor, call) =>
    new ServerInterceptingCall(call, {
      start: (next) => {
        next({
          onReceiveMetadata: (metadata, mdNext) => {
            if (accepted.length === 0 || PUBLIC_PREFIXES.some((p) => methodDescriptor.path.startsWith(p))) return mdNext(metadata);
            const header = String(metadata.get('authorization')[0] ?? '');
            const m = /^Bearer\s+(.+)$/i.exec(header);
            if (m && ok(m[1].trim())) return mdNext(metadata);
            call.sendStatus({
              code: Status.UNAUTHENTICATED,
              details: header
                ? 'the bearer token is not accepted; send `authorization: Bearer <token>` with a token from AUTH_TOKENS'
                : 'missing `authorization: Bearer <token>` metadata',
              metadata: new Metadata(),
            });
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
  private inFlight = 0;
  private stopping = false;

  constructor(private readonly opts: GrpcServerOptions) {
    this.maxCallMs = opts.maxCallMs ?? 30_000;
    this.errorDomain = opts.errorDomain ?? `penguinmails.${opts.service}`;
    this.server = new Server({ ...opts.serverOptions, interceptors: [bearerAuthInterceptor(opts.authTokens)] });
    // '' is the overall status probes ask for; NOT_SERVING until `setServing(true)`.
    this.health = new HealthImplementation({ '': 'NOT_SERVING' });
    this.health.addToServer(this.server);
  }

  /** Registers a service. `name` is its fully-qualified proto name (for health and reflection). */
  addService<S>(name: string, definition: ServiceDefinition, handlers: Handlers<S>): this {
    const impl: UntypedServiceImplementation = {};
    for (const [method, def] of Object.entries(definition)) {
      const fn = (handlers as Record<string, unknown>)[method];
      if (typeof fn !== 'function') throw new Error(`${name}: no handler for ${method}`);
      if (def.requestStream) throw new Error(`${name}.${method}: client streaming is not supported by this kit`);
      impl[method] = def.responseStream
        ? this.wrapServerStream(def.path, fn as StreamFn<unknown, unknown>)
        : this.wrapUnary(def.path, fn as UnaryFn<unknown, unknown>);
    }
    this.server.addService(definition, impl);
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
    if (this.opts.descriptorSetPath) {
      const pkg = {
        ...protoLoader.loadFileDescriptorSetFromBuffer(readFileSync(this.opts.descriptorSetPath)),
        ...protoLoader.loadSync(healthProtoPath),
      };
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

  private context(path: string, call: ServerUnaryCall<unknown, unknown> | ServerWritableStream<unknown, unknown>) {
    const requestId = String(call.metadata.get('x-request-id')[0] ?? '') || randomUUID();
    const logger = this.opts.logger.child({ rpc: path, requestId });
    const callerDeadline = call.getDeadline();
    const callerMs = callerDeadline instanceof Date ? callerDeadline.getTime() : Number(callerDeadline);
    const deadlineMs = Math.min(Number.isFinite(callerMs) ? callerMs : Infinity, Date.now() + this.maxCallMs);
    const abort = new AbortController();
    const timer = setTimeout(() => abort.abort(Object.assign(new Error('deadline exceeded'), { name: 'AbortError' })), Math.max(0, deadlineMs - Date.now()));
    timer.unref();
    call.on('cancelled', () => abort.abort(Object.assign(new Error('cancelled by the caller'), { name: 'AbortError' })));
    const header = new Metadata();
    header.set('x-request-id', requestId);
    call.sendMetadata(header);
    const ctx: CallContext = { requestId, logger, deadline: new Date(deadlineMs), signal: abort.signal, metadata: call.metadata };
    return { ctx, timer, abort };
  }

  private finish(ctx: CallContext, started: number, err?: unknown) {
    const ms = Math.round(performance.now() - started);
    if (!err) return ctx.logger.info({ ms, code: 'OK' }, 'rpc');
    const se = toServiceError(err, this.errorDomain, ctx.requestId);
    const level = se.code === Status.INTERNAL || se.code === Status.UNAVAILABLE ? 'error' : 'info';
    ctx.logger[level]({ ms, code: Status[se.code], err: level === 'error' ? asError(err) : undefined, details: se.details }, 'rpc');
    return se;
  }

  private wrapUnary(path: string, fn: UnaryFn<unknown, unknown>): handleUnaryCall<unknown, unknown> {
    return (call: ServerUnaryCall<unknown, unknown>, callback: sendUnaryData<unknown>) => {
      const started = performance.now();
      const { ctx, timer, abort } = this.context(path, call);
      this.inFlight++;
      // Race the handler against the deadline: the caller gets DEADLINE_EXCEEDED on time even
      // if the work (which sees ctx.signal) is still winding down.
      const aborted = new Promise<never>((_, reject) =>
        abort.signal.addEventListener('abort', () => reject(abort.signal.reason), { once: true }),
      );
      aborted.catch(() => undefined);
      Promise.race([fn(call.request, ctx), aborted]).then(
        (res) => {
          clearTimeout(timer);
          this.inFlight--;
          this.finish(ctx, started);
          return callback(null, res);
        },
        (err) => {
          clearTimeout(timer);
          this.inFlight--;
          return callback(this.finish(ctx, started, err) as never);
        },
      );
    };
  }

  private wrapServerStream(path: string, fn: StreamFn<unknown, unknown>): handleServerStreamingCall<unknown, unknown> {
    return (call: ServerWritableStream<unknown, unknown>) => {
      const started = performance.now();
      const { ctx, timer } = this.context(path, call);
      this.inFlight++;
      void (async () => {
        try {
          for await (const item of fn(call.request, ctx)) {
            if (ctx.signal.aborted) throw ctx.signal.reason;
            // Respect backpressure: wait for the socket to drain before producing more.
            if (!call.write(item)) await new Promise((r) => call.once('drain', r));
          }
          this.finish(ctx, started);
          call.end();
        } catch (err) {
          call.emit('error', this.finish(ctx, started, err));
        } finally {
          clearTimeout(timer);
          this.inFlight--;
        }
      })();
    };
  }
}

export function createGrpcServer(opts: GrpcServerOptions): GrpcServer {
  return new GrpcServer(opts);
}
