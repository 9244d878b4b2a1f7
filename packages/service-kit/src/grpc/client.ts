import { tracingClientInterceptor, tracingEnabled } from '../tracing';
import { credentials, type CallOptions, type Client, type ChannelCredentials, type Interceptor, InterceptingCall, Metadata, type ServiceError } from '@grpc/grpc-js';

/** Adds `authorization: Bearer <token>` to every call (works on plaintext channels too). */
export function bearerTokenInterceptor(token: string): Interceptor {
  return (options, nextCall) =>
    new InterceptingCall(nextCall(options), {
      start: (metadata, listener, next) => {
        metadata.set('authorization', `Bearer ${token}`);
        next(metadata, listener);
      },
    });
}

export interface ClientOptions {
  token?: string;
  credentials?: ChannelCredentials;
}

/**
 * Builds a ts-proto grpc-js client: `connect(MetadataServiceClient, 'localhost:50051', { token })`.
 * When tracing is on (startTracing ran first, as runService does before `start`), every call
 * gets a CLIENT span and carries `traceparent` to the server.
 */
export function connect<C extends Client>(
  ClientClass: new (address: string, creds: ChannelCredentials, options?: object) => C,
  address: string,
  opts: ClientOptions = {},
): C {
  return new ClientClass(address, opts.credentials ?? credentials.createInsecure(), {
    interceptors: [...(opts.token ? [bearerTokenInterceptor(opts.token)] : []), ...(tracingEnabled() ? [tracingClientInterceptor()] : [])],
  });
}

type UnaryMethod<Req, Res> = (
  request: Req,
  metadata: Metadata,
  options: Partial<CallOptions>,
  callback: (error: ServiceError | null, response: Res) => void,
) => unknown;

/**
 * Promise form of a unary call: `await call(client, 'getTenant', { tenantId }, { deadlineMs: 2000 })`.
 */
export function call<C extends Client, M extends keyof C, Req, Res>(
  client: C,
  method: M,
  request: C[M] extends UnaryMethod<infer Q, infer _R> ? Q : Req,
  opts: { deadlineMs?: number; metadata?: Metadata } = {},
): Promise<C[M] extends UnaryMethod<infer _Q, infer R> ? R : Res> {
  const fn = client[method] as unknown as UnaryMethod<unknown, unknown>;
  return new Promise((resolve, reject) => {
    fn.call(
      client,
      request,
      opts.metadata ?? new Metadata(),
      { deadline: Date.now() + (opts.deadlineMs ?? 10_000) },
      (err, res) => (err ? reject(err) : resolve(res as never)),
    );
  });
}
