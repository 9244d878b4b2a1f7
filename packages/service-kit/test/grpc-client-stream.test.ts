import { Metadata, credentials, status, type ClientWritableStream, type ServiceError } from '@grpc/grpc-js';
import { randomUUID } from 'node:crypto';
import { commonV1 } from '@penguinmails/contracts';
import { InvalidArgumentError, createGrpcServer, createLogger, currentCall, decodeStatus, type CallContext, type GrpcServer } from '../src';
import { CollectClient, CollectProbe, type CollectService } from './fixtures/probe-service';

// Client streaming through the kit's server wrapper: auth, the request guard on every message,
// the tenant check on the first, deadlines from the call scope, and the one error mapping.

type Client = InstanceType<typeof CollectClient> & Record<string, Function>;
const tenant = randomUUID();
const other = randomUUID();
let server: GrpcServer;
let port: number;
let client: Client;
/** What the handler saw of the last call. */
let seen: { types: string[]; hadScope: boolean } = { types: [], hadScope: false };

beforeAll(async () => {
  server = createGrpcServer({
    service: 'probe',
    logger: createLogger({ service: 'probe', level: 'silent' }),
    authTokens: ['secret-token', `${tenant}:tenant-token`],
    maxCallMs: 400,
  });
  server.addService<CollectService>('penguinmails.test.v1.CollectService', CollectProbe, {
    collect: async (requests: AsyncIterable<commonV1.EventEnvelope>, _ctx: CallContext) => {
      seen = { types: [], hadScope: Boolean(currentCall()?.signal) };
      for await (const r of requests) {
        if (r.eventType === 'bad') throw new InvalidArgumentError([{ field: 'event_type', reason: 'BAD', description: 'bad' }]);
        if (r.eventType === 'slow') await new Promise((res) => setTimeout(res, 2_000));
        seen.types.push(r.eventType);
      }
      return { nextPageToken: seen.types.join(',') };
    },
  });
  port = await server.listen('127.0.0.1', 0);
  client = new CollectClient(`127.0.0.1:${port}`, credentials.createInsecure()) as Client;
});

afterAll(async () => {
  client.close();
  await server.shutdown(1_000);
});

const envelope = (eventType: string, tenantId = tenant): commonV1.EventEnvelope => ({
  eventId: randomUUID(),
  tenantId,
  eventType,
  source: 'test',
  payload: Buffer.alloc(0),
});

/** Sends the messages (a Buffer goes on the wire as it is) and resolves with the answer or the error. */
function collect(messages: (commonV1.EventEnvelope | Buffer)[], token = 'secret-token', deadlineMs = 5_000) {
  const md = new Metadata();
  if (token) md.set('authorization', `Bearer ${token}`);
  return new Promise<{ res?: commonV1.PageResponse; err?: ServiceError }>((resolve) => {
    const stream: ClientWritableStream<unknown> = client.collect(md, { deadline: Date.now() + deadlineMs }, (err: ServiceError | null, res: commonV1.PageResponse) =>
      resolve(err ? { err } : { res }),
    );
    for (const m of messages) stream.write(m);
    stream.end();
  });
}

test('every message reaches the handler in order, in the call scope', async () => {
  const { res, err } = await collect([envelope('a'), envelope('b'), envelope('c', '' as typeof tenant)]);
  expect(err).toBeUndefined();
  expect(res).toEqual({ nextPageToken: 'a,b,c' });
  expect(seen.hadScope).toBe(true);
});

test('an empty stream reaches the handler with no messages', async () => {
  const { res } = await collect([]);
  expect(res).toEqual({ nextPageToken: '' });
});

test('without a token: UNAUTHENTICATED, the handler never runs', async () => {
  seen = { types: ['untouched'], hadScope: false };
  const { err } = await collect([envelope('a')], '');
  expect(err?.code).toBe(status.UNAUTHENTICATED);
  expect(seen.types).toEqual(['untouched']);
});

test('a tenant-bound token is checked against the first message', async () => {
  expect((await collect([envelope('a'), envelope('b')], 'tenant-token')).res).toEqual({ nextPageToken: 'a,b' });
  const denied = await collect([envelope('a', other), envelope('b')], 'tenant-token');
  expect(denied.err?.code).toBe(status.PERMISSION_DENIED);
});

test('the request guard sees every message: bad UTF-8 in a later one is INVALID_ARGUMENT naming the field', async () => {
  // field 3 (event_type), length 1, byte 0xff: not UTF-8.
  const bad = Buffer.from([0x1a, 0x01, 0xff]);
  const { err } = await collect([envelope('a'), bad, envelope('c')]);
  expect(err?.code).toBe(status.INVALID_ARGUMENT);
  expect(decodeStatus(err!).fieldViolations.map((f) => f.field)).toEqual(['event_type']);
  expect(seen.types).toEqual(['a']);
});

test('a message that does not decode is INVALID_ARGUMENT, even when the handler swallows the error', async () => {
  const garbage = Buffer.from([0x0a, 0x7f, 0x01]); // field 1 claims 127 bytes, has 1
  const { err } = await collect([envelope('a'), garbage]);
  expect(err?.code).toBe(status.INVALID_ARGUMENT);
  expect(decodeStatus(err!).fieldViolations[0]).toMatchObject({ reason: 'MALFORMED_MESSAGE' });
});

test("the handler's domain error maps to its code", async () => {
  const { err } = await collect([envelope('a'), envelope('bad')]);
  expect(err?.code).toBe(status.INVALID_ARGUMENT);
  expect(decodeStatus(err!).fieldViolations.map((f) => f.field)).toEqual(['event_type']);
});

test('the deadline (capped by maxCallMs) answers DEADLINE_EXCEEDED on time', async () => {
  const started = Date.now();
  const { err } = await collect([envelope('slow')]);
  expect(err?.code).toBe(status.DEADLINE_EXCEEDED);
  expect(Date.now() - started).toBeLessThan(1_500);
});

test('a client that never half-closes is cut at the deadline', async () => {
  const md = new Metadata();
  md.set('authorization', 'Bearer secret-token');
  const started = Date.now();
  const err = await new Promise<ServiceError | null>((resolve) => {
    const stream = client.collect(md, { deadline: Date.now() + 5_000 }, (e: ServiceError | null) => resolve(e));
    stream.write(envelope('a'));
  });
  expect(err?.code).toBe(status.DEADLINE_EXCEEDED);
  expect(Date.now() - started).toBeLessThan(1_500);
});
