import { credentials, loadPackageDefinition } from '@grpc/grpc-js';
import { loadSync } from '@grpc/proto-loader';
import { protoPath as healthProtoPath } from 'grpc-health-check';

const reflectionProto = require.resolve('@grpc/reflection/build/proto/grpc/reflection/v1/reflection.proto');

/** What `grpcurl -plaintext <address> list` prints: the services reflection exposes. */
export function reflectionListServices(address: string): Promise<string[]> {
  const pkg = loadPackageDefinition(loadSync(reflectionProto)) as any;
  const client = new pkg.grpc.reflection.v1.ServerReflection(address, credentials.createInsecure());
  return new Promise((resolve, reject) => {
    const stream = client.ServerReflectionInfo();
    stream.on('data', (res: any) => {
      resolve((res.listServicesResponse?.service ?? []).map((s: any) => s.name).sort());
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
  const pkg = loadPackageDefinition(loadSync(healthProtoPath, { enums: String })) as any;
  const client = new pkg.grpc.health.v1.Health(address, credentials.createInsecure());
  return new Promise((resolve, reject) =>
    client.Check({ service }, { deadline: Date.now() + 5_000 }, (err: Error | null, res: { status: string }) => {
      client.close();
      return err ? reject(err) : resolve(res.status);
    }),
  );
}
