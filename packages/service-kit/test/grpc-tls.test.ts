import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { credentials, Metadata, status, type ChannelCredentials, type ServiceError } from '@grpc/grpc-js';
import { Probe, ProbeClient, type ProbeService } from './fixtures/probe-service';
import { commonV1 } from '@penguinmails/contracts';
import { createGrpcServer, createLogger, type GrpcServer } from '../src';

const dir = join(__dirname, 'fixtures/tls');
const file = (n: string) => join(dir, n);
const read = (n: string) => readFileSync(file(n));



async function serve(clientCa?: string): Promise<{ server: GrpcServer; port: number }> {
  const server = createGrpcServer({
    service: 'probe',
    logger: createLogger({ service: 'probe', level: 'silent' }),
    authTokens: [],
    tls: { cert: file('server.pem'), key: file('server.key'), clientCa },
  });
  server.addService<ProbeService>('penguinmails.test.v1.ProbeService', Probe, { echo: async () => ({ nextPageToken: 'tls-ok' }), list: async function* () {} });
  return { server, port: await server.listen('127.0.0.1', 0) };
}

function echo(port: number, creds: ChannelCredentials): Promise<commonV1.PageResponse> {
  const c = new ProbeClient(`localhost:${port}`, creds);
  return new Promise((resolve, reject) =>
    c.echo({ pageSize: 0, pageToken: '' }, new Metadata(), { deadline: Date.now() + 3_000 }, (err: ServiceError | null, res: commonV1.PageResponse) => {
      c.close();
      return err ? reject(err) : resolve(res);
    }),
  );
}

test('TLS: a client trusting the CA connects; a plaintext client does not', async () => {
  const { server, port } = await serve();
  await expect(echo(port, credentials.createSsl(read('ca.pem')))).resolves.toEqual({ nextPageToken: 'tls-ok' });
  // The handshake fails: the call never reaches the server (UNAVAILABLE), not an application error.
  await expect(echo(port, credentials.createInsecure())).rejects.toMatchObject({ code: status.UNAVAILABLE });
  await server.shutdown(500);
});

test('mTLS: with TLS_CLIENT_CA the server requires a client certificate signed by that CA', async () => {
  const { server, port } = await serve(file('ca.pem'));
  await expect(echo(port, credentials.createSsl(read('ca.pem'), read('client.key'), read('client.pem')))).resolves.toEqual({ nextPageToken: 'tls-ok' });
  await expect(echo(port, credentials.createSsl(read('ca.pem')))).rejects.toMatchObject({ code: status.UNAVAILABLE });
  await server.shutdown(500);
});
