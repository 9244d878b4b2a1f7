import { Client, Metadata, credentials, loadPackageDefinition, type ChannelCredentials } from '@grpc/grpc-js';
import { loadSync } from '@grpc/proto-loader';
import { protoPath as healthProtoPath } from 'grpc-health-check';

const reflectionProto = require.resolve('@grpc/reflection/build/proto/grpc/reflection/v1/reflection.proto');

// The parts of the dynamically loaded (proto-loader) clients that the functions below use.
type ClientCtor<T> = new (address: string, creds: ChannelCredentials) => T & { close(): void };
interface ReflectionResponse { listServicesResponse?: { service?: { name: string }[] } }
interface ReflectionStream {
  on(event: 'data', listener: (res: ReflectionResponse) => void): void;
  on(event: 'error', listener: (err: Error) => void): void;
  write(req: { listServices: string }): void;
  end(): void;
}
type ReflectionPackage = { grpc: { reflection: { v1: { ServerReflection: ClientCtor<{ ServerReflectionInfo(): ReflectionStream }> } } } };
type HealthCheck = (req: { service: string }, opts: { deadline: number }, cb: (err: Error | null, res: { status: string }) => void) => void;
type HealthPackage = { grpc: { health: { v1: { Health: ClientCtor<{ Check: HealthCheck }> } } } };

/** What `grpcurl -plaintext <address> list` prints: the services reflection exposes. */
export function reflectionListServices(address: string): Promise<string[]> {
  const pkg = loadPackageDefinition(loadSync(reflectionProto)) as unknown as ReflectionPackage;
  const client = new pkg.grpc.reflection.v1.ServerReflection(address, credentials.createInsecure());
  return new Promise((resolve, reject) => {
    const stream = client.ServerReflectionInfo();
    stream.on('data', (res) => {
      resolve((res.listServicesResponse?.service ?? []).map((s) => s.name).sort());
      stream.end();
      client.close();
    });
    stream.on('error', (err: Error) => {
      client.close();
      reject(err);
    });
    stream.write({ listServices: '*' });
  });
}

/** grpc.health.v1 Check: resolves with 'SERVING' | 'NOT_SERVING' | 'UNKNOWN' | 'SERVICE_UNKNOWN'. */
export function healthCheck(address: string, service = ''): Promise<string> {
  const pkg = loadPackageDefinition(loadSync(healthProtoPath, { enums: String })) as unknown as HealthPackage;
  const client = new pkg.grpc.health.v1.Health(address, credentials.createInsecure());
  return new Promise((resolve, reject) =>
    client.Check({ service }, { deadline: Date.now() + 5_000 }, (err, res) => {
      client.close();
      return err ? reject(err) : resolve(res.status);
    }),
  );
}

/**
 * Sends `bytes` as the request of `path` exactly as given, and resolves with the raw response
 * bytes, or rejects with the ServiceError. For tests of what a non-TypeScript client can put on
 * the wire (int64 beyond 2^53, Timestamps no Date can hold, bytes that are not a message).
 */
export function callRaw(address: string, path: string, bytes: Uint8Array, opts: { token?: string; deadlineMs?: number } = {}): Promise<Buffer> {
  const client = new Client(address, credentials.createInsecure());
  const md = new Metadata();
  if (opts.token) md.set('authorization', `Bearer ${opts.token}`);
  return new Promise<Buffer>((resolve, reject) =>
    client.makeUnaryRequest(
      path,
      (b: Uint8Array) => Buffer.from(b),
      (b: Buffer) => b,
      bytes,
      md,
      { deadline: Date.now() + (opts.deadlineMs ?? 5_000) },
      (err, res) => (err ? reject(err) : resolve(res as Buffer)),
    ),
  ).finally(() => client.close());
}

/** Protobuf wire encoding of one length-delimited field (a message, string or bytes): tag, length, bytes. */
export function lenField(fieldNumber: number, bytes: Uint8Array): Buffer {
  return Buffer.concat([varint((fieldNumber << 3) | 2), varint(bytes.length), Buffer.from(bytes)]);
}

/** Protobuf wire encoding of one varint field (int32, int64, enum, bool), any 64-bit value. */
export function varintField(fieldNumber: number, value: bigint): Buffer {
  return Buffer.concat([varint((fieldNumber << 3) | 0), varint(BigInt.asUintN(64, value))]);
}

function varint(value: number | bigint): Buffer {
  let v = BigInt(value);
  const out: number[] = [];
  do {
    let byte = Number(v & 0x7fn);
    v >>= 7n;
    if (v > 0n) byte |= 0x80;
    out.push(byte);
  } while (v > 0n);
  return Buffer.from(out);
}
