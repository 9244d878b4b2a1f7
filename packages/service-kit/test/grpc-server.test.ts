import { Metadata, status, type ServiceError, credentials } from '@grpc/grpc-js';
import { healthCheck, reflectionListServices } from '../../testkit/src';
import { readFileSync } from 'node:fs';
import * as protoLoader from '@grpc/proto-loader';
import { ReflectionService } from '@grpc/reflection';
import { protoPath as healthProtoPath } from 'grpc-health-check';
import { commonV1, descriptorSetPath } from '@penguinmails/contracts';
import {
  AbortedError,
  AlreadyExistsError,
  UnavailableError,
  classifyError,
  InvalidArgumentError,
  NotFoundError,
  FailedPreconditionError,
  Validator,
  createGrpcServer,
  currentCall,
  createLogger,
  decodeStatus,
  type GrpcServer,
  type CallContext,
} from '../src';

import { reflectionFiles } from '../src/grpc/server';
import { Probe, ProbeClient, type ProbeService } from './fixtures/probe-service';

type Client = InstanceType<typeof ProbeClient> & Record<string, Function>;

let server: GrpcServer;
let port: number;

beforeAll(async () => {
  server = createGrpcServer({
    service: 'probe',
    logger: createLogger({ service: 'probe', level: 'silent' }),
    authTokens: ['secret-token'],
    maxCallMs: 300,
  });
  server.addService<ProbeService>('penguinmails.test.v1.ProbeService', Probe, {
    echo: async (req: commonV1.PageRequest, ctx: CallContext) => {
      const v = new Validator();
      v.pageSize('page_size', req.pageSize, { default: 50, max: 500 });
      v.done();
      if (req.pageToken === 'missing') throw new NotFoundError('tenant', 'abc');
      if (req.pageToken === 'state') throw new FailedPreconditionError('message/1', 'cannot go from bounced to sent');
      if (req.pageToken === 'bug') throw new Error('secret internals');
      if (req.pageToken === 'slow')
        // Long work watches the call's signal and stops when the deadline passes.
        await new Promise((resolve, reject) => {
          const t = setTimeout(resolve, 2_000);
          const { signal } = currentCall()!;
          signal.addEventListener('abort', () => {
            clearTimeout(t);
            reject(signal.reason);
          });
        });
      return { nextPageToken: `echo:${req.pageSize}` };
    },
    list: async function* (req: commonV1.PageRequest) {
      for (let i = 0; i < req.pageSize; i++) yield { nextPageToken: String(i) };
      if (req.pageToken === 'fail') throw new InvalidArgumentError([{ field: 'x', reason: 'BAD', description: 'x is bad' }]);
    },
  });
  port = await server.listen('127.0.0.1', 0);
});

afterAll(async () => {
  await server.shutdown(1_000);
});

function client(token?: string): Client {
  return new ProbeClient(`127.0.0.1:${port}`, credentials.createInsecure()) as Client;
}

function echo(c: Client, req: Partial<commonV1.PageRequest>, token?: string, deadlineMs = 5_000): Promise<commonV1.PageResponse> {
  const md = new Metadata();
  if (token) md.set('authorization', `Bearer ${token}`);
  return new Promise((resolve, reject) =>
    c.echo({ pageSize: 0, pageToken: '', ...req }, md, { deadline: Date.now() + deadlineMs }, (err: ServiceError | null, res: commonV1.PageResponse) =>
      err ? reject(err) : resolve(res),
    ),
  );
}

test('a valid call with the token succeeds and echoes a request id header', async () => {
  const c = client();
  const md = new Metadata();
  md.set('authorization', 'Bearer secret-token');
  md.set('x-request-id', 'req-123');
  const headers = await new Promise<Metadata>((resolve, reject) => {
    const call = c.echo({ pageSize: 7, pageToken: '' }, md, (err: ServiceError | null) => err && reject(err));
    call.on('metadata', resolve);
  });
  expect(headers.get('x-request-id')).toEqual(['req-123']);
  await expect(echo(c, { pageSize: 7 }, 'secret-token')).resolves.toEqual({ nextPageToken: 'echo:7' });
  c.close();
});

test('missing or wrong token is UNAUTHENTICATED with a message saying what to send', async () => {
  const c = client();
  await expect(echo(c, {})).rejects.toMatchObject({ code: status.UNAUTHENTICATED, details: expect.stringContaining('authorization') });
  await expect(echo(c, {}, 'wrong')).rejects.toMatchObject({ code: status.UNAUTHENTICATED, details: expect.stringContaining('AUTH_TOKENS') });
  // the same google.rpc.Status as every other refusal: a generated client reads ErrorInfo's reason
  const st = decodeStatus(await echo(c, {}).catch((e) => e));
  expect(st).toMatchObject({ code: status.UNAUTHENTICATED, message: expect.stringContaining('authorization'), errorInfo: { reason: 'UNAUTHENTICATED', domain: 'penguinmails.probe' } });
  c.close();
});

test('validation errors are INVALID_ARGUMENT with a BadRequest naming the field', async () => {
  const c = client();
  const err = await echo(c, { pageSize: 501 }, 'secret-token').catch((e) => e);
  expect(err.code).toBe(status.INVALID_ARGUMENT);
  const st = decodeStatus(err);
  expect(st.errorInfo).toMatchObject({ reason: 'INVALID_ARGUMENT', domain: 'penguinmails.probe' });
  expect(st.fieldViolations).toEqual([expect.objectContaining({ field: 'page_size', reason: 'OUT_OF_RANGE' })]);
  c.close();
});

test('domain errors map to NOT_FOUND and FAILED_PRECONDITION; unknown errors to INTERNAL without internals', async () => {
  const c = client();
  const nf = await echo(c, { pageToken: 'missing' }, 'secret-token').catch((e) => e);
  expect(nf.code).toBe(status.NOT_FOUND);
  expect(decodeStatus(nf).resourceInfo).toMatchObject({ resourceType: 'tenant', resourceName: 'abc' });
  const fp = await echo(c, { pageToken: 'state' }, 'secret-token').catch((e) => e);
  expect(fp.code).toBe(status.FAILED_PRECONDITION);
  expect(decodeStatus(fp).preconditionViolations[0]).toMatchObject({ subject: 'message/1' });
  const bug = await echo(c, { pageToken: 'bug' }, 'secret-token').catch((e) => e);
  expect(bug.code).toBe(status.INTERNAL);
  expect(bug.details).not.toContain('secret internals');
  expect(bug.details).toContain('request id');
  c.close();
});

test('calls are cut at the server cap when the caller sets a longer deadline', async () => {
  const c = client();
  const started = Date.now();
  const err = await echo(c, { pageToken: 'slow' }, 'secret-token', 5_000).catch((e) => e);
  expect(err.code).toBe(status.DEADLINE_EXCEEDED);
  expect(Date.now() - started).toBeLessThan(1_900);
  c.close();
});

test('server streaming delivers every item, and a late error reaches the caller with its code', async () => {
  const c = client();
  const md = new Metadata();
  md.set('authorization', 'Bearer secret-token');
  const items: string[] = [];
  const end = await new Promise<ServiceError | null>((resolve) => {
    const s = c.list({ pageSize: 5, pageToken: 'fail' }, md);
    s.on('data', (d: commonV1.PageResponse) => items.push(d.nextPageToken));
    s.on('error', (e: ServiceError) => resolve(e));
    s.on('end', () => resolve(null));
  });
  expect(items).toEqual(['0', '1', '2', '3', '4']);
  expect(end?.code).toBe(status.INVALID_ARGUMENT);
  c.close();
});

test('health answers without a token and turns NOT_SERVING on shutdown; reflection lists health', async () => {
  const addr = `127.0.0.1:${port}`;
  await expect(healthCheck(addr)).resolves.toBe('SERVING');
  await expect(healthCheck(addr, 'penguinmails.test.v1.ProbeService')).resolves.toBe('SERVING');
  server.setServing(false);
  await expect(healthCheck(addr)).resolves.toBe('NOT_SERVING');
  await expect(healthCheck(addr, 'penguinmails.test.v1.ProbeService')).resolves.toBe('NOT_SERVING');
  server.setServing(true);
  // Reflection needs no token and no proto files on the caller's side (grpcurl works).
  await expect(reflectionListServices(addr)).resolves.toContain('grpc.health.v1.Health');
});

test('driver errors are classified: pg and Prisma unique violations, lost connections', async () => {
  expect(classifyError(Object.assign(new Error('dup'), { code: '23505', constraint: 'users_tenant_email_key' }))).toBeInstanceOf(AlreadyExistsError);
  expect(classifyError(Object.assign(new Error('dup'), { code: 'P2002', meta: { target: ['tenant_id', 'email'] } })).message).toMatch(/tenant_id, email/);
  expect(classifyError(Object.assign(new Error('gone'), { code: 'P2025' }))).toBeInstanceOf(NotFoundError);
  expect(classifyError(Object.assign(new Error('x'), { code: 'ECONNREFUSED' }))).toBeInstanceOf(UnavailableError);
  expect(classifyError(Object.assign(new Error('x'), { code: '40001' }))).toBeInstanceOf(AbortedError);
  expect(classifyError(new Error('Connection terminated unexpectedly'))).toBeInstanceOf(UnavailableError);
  expect(classifyError(new Error('Client has encountered a connection error and is not queryable'))).toBeInstanceOf(UnavailableError);
  expect(classifyError(new TypeError('bug'))).toBeInstanceOf(TypeError);
});

test('shutdown lets in-flight calls finish, refuses new ones, and forces after the grace period', async () => {
  const s = createGrpcServer({ service: 'probe', logger: createLogger({ service: 'probe', level: 'silent' }), authTokens: [], maxCallMs: 10_000 });
  let release!: () => void;
  const gate = new Promise<void>((r) => (release = r));
  let entered!: () => void;
  const handlerStarted = new Promise<void>((r) => (entered = r));
  s.addService<ProbeService>('penguinmails.test.v1.ProbeService', Probe, {
    echo: async (req: commonV1.PageRequest) => {
      if (req.pageToken === 'hold') {
        entered();
        await gate;
      }
      return { nextPageToken: 'done' };
    },
    list: async function* () {},
  });
  const p = await s.listen('127.0.0.1', 0);
  const c = new ProbeClient(`127.0.0.1:${p}`, credentials.createInsecure()) as Client;
  const inFlight = echo(c, { pageToken: 'hold' });
  // Shut down once the call is inside its handler (not after a fixed sleep: on a loaded machine
  // the call may not even have connected after 100 ms, and would then be refused, not in flight).
  await handlerStarted;
  const stopping = s.shutdown(5_000);
  await expect(healthCheck(`127.0.0.1:${p}`)).rejects.toMatchObject({ code: status.UNAVAILABLE }); // no new calls once shutdown began
  release();
  await expect(inFlight).resolves.toEqual({ nextPageToken: 'done' });
  await stopping;
  c.close();

  // A call that never finishes is cut when the grace period ends.
  const s2 = createGrpcServer({ service: 'probe', logger: createLogger({ service: 'probe', level: 'silent' }), authTokens: [], maxCallMs: 10_000 });
  s2.addService<ProbeService>('penguinmails.test.v1.ProbeService', Probe, { echo: () => new Promise(() => undefined), list: async function* () {} });
  const p2 = await s2.listen('127.0.0.1', 0);
  const c2 = new ProbeClient(`127.0.0.1:${p2}`, credentials.createInsecure()) as Client;
  const stuck = echo(c2, {}).catch((e) => e);
  await new Promise((r) => setTimeout(r, 100));
  const started = Date.now();
  await s2.shutdown(300);
  expect(Date.now() - started).toBeLessThan(2_000);
  expect([status.CANCELLED, status.UNAVAILABLE]).toContain((await stuck).code); // grpc-js cancels the stream
  c2.close();
});

test("reflection built from each file once answers every symbol and listing as the library's own indexing of the whole definition does", () => {
  const pkg = { ...protoLoader.loadFileDescriptorSetFromBuffer(readFileSync(descriptorSetPath)), ...protoLoader.loadSync(healthProtoPath) };
  const services = Object.keys(pkg).filter((k) => !('format' in (pkg[k] as object)));
  expect(services.length).toBeGreaterThanOrEqual(5); // the four services and health
  type V1 = { fileContainingSymbol(s: string): unknown; listServices(s: string): unknown };
  const v1 = (p: typeof pkg) => (new ReflectionService(p, { services }) as unknown as { v1: V1 }).v1;
  const whole = v1(pkg);
  const once = v1(reflectionFiles(pkg));
  expect(once.listServices('*')).toEqual(whole.listServices('*'));
  const symbols = Object.keys(pkg);
  expect(symbols.length).toBeGreaterThan(200);
  // The answer is a list of encoded file descriptors; compared as text (jest's deep equality of ~300 answers of Buffers took 18 s).
  const files = (r: unknown) => (r as { fileDescriptorProto: Uint8Array[] }).fileDescriptorProto.map((b) => Buffer.from(b).toString('base64')).join(',');
  const differ = symbols.filter((symbol) => files(once.fileContainingSymbol(symbol)) !== files(whole.fileContainingSymbol(symbol)));
  expect(differ).toEqual([]);
  expect(files(once.fileContainingSymbol('penguinmails.queue.v1.QueueService')).length).toBeGreaterThan(1000);
  // and a symbol nobody defines is refused alike
  expect(() => once.fileContainingSymbol('penguinmails.nope.v1.Nothing')).toThrow();
  expect(() => whole.fileContainingSymbol('penguinmails.nope.v1.Nothing')).toThrow();
});
