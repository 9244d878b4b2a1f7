// The classes of the hardening issue at the kit level: status text that cannot crash the
// process or overflow the trailers, requests that do not decode, text no store can hold,
// tenant-bound tokens, and the call's deadline reaching PostgreSQL.
import { randomUUID } from 'node:crypto';
import { Metadata, credentials, makeGenericClientConstructor, status, type ServiceError } from '@grpc/grpc-js';
import { commonV1 } from '@penguinmails/contracts';
import { freshDatabase, healthCheck, reflectionListServices } from '../../testkit/src';
import {
  InvalidArgumentError,
  NotFoundError,
  Validator,
  createGrpcServer,
  createLogger,
  createPgPool,
  decodeStatus,
  parseAuthTokens,
  runInCallScope,
  safeText,
  toServiceError,
  withTransaction,
  type CallContext,
  type GrpcServer,
} from '../src';
import { Probe, ProbeClient, type ProbeService } from './fixtures/probe-service';

type Client = InstanceType<typeof ProbeClient> & Record<string, Function>;
const ASTRAL = '😀'.repeat(40); // 80 UTF-16 units: any cut at an odd index splits a pair

describe('safeText', () => {
  it('makes lone surrogates well-formed and cuts on code-point boundaries', () => {
    expect(safeText('a\uD800b', 10)).toBe('a\uFFFDb');
    for (let max = 2; max < 20; max++) {
      const out = safeText(ASTRAL, max);
      expect(out.length).toBeLessThanOrEqual(max);
      expect(out.isWellFormed()).toBe(true);
      expect(() => encodeURI(out)).not.toThrow();
    }
  });
});

describe('toServiceError', () => {
  it('sends at most 20 violations plus one that counts the rest, in bounded well-formed text', () => {
    const violations = Array.from({ length: 5_000 }, (_, i) => ({
      field: `leads[${i}].email`,
      reason: 'NOT_AN_EMAIL',
      description: `got ${'x'.repeat(70_000)}${ASTRAL}`,
    }));
    const se = toServiceError(new InvalidArgumentError(violations), 'penguinmails.test');
    const st = decodeStatus(se);
    expect(st.code).toBe(status.INVALID_ARGUMENT);
    expect(st.fieldViolations).toHaveLength(21);
    expect(st.fieldViolations[20]).toMatchObject({ reason: 'MORE_VIOLATIONS', description: expect.stringContaining('4980 more') });
    expect(st.fieldViolations.every((v) => v.description.length <= 300 && v.description.isWellFormed())).toBe(true);
    expect(se.details.length).toBeLessThanOrEqual(1_000);
    expect(() => encodeURI(se.details)).not.toThrow();
    expect(se.metadata.get('grpc-status-details-bin')[0].length).toBeLessThan(16 * 1024);
  });
});

describe('parseAuthTokens', () => {
  it('reads service-scope and tenant-bound entries', () => {
    const a = randomUUID();
    const b = randomUUID();
    const p = parseAuthTokens(['plain-token', '*:star:token', `${a}|${b.toUpperCase()}:tenant-token`, 'not-a-uuid:whole']);
    expect([...p.values()].map((x) => (x.scope === 'tenants' ? [...x.tenants].sort() : x.scope))).toEqual([
      'service',
      'service',
      [a, b].sort(),
      'service',
    ]);
  });
});

describe('the server refuses what would crash, hang or poison it', () => {
  let server: GrpcServer;
  let port: number;
  const tenantA = randomUUID();

  beforeAll(async () => {
    server = createGrpcServer({
      service: 'probe',
      logger: createLogger({ service: 'probe', level: 'silent' }),
      authTokens: ['service-token', `${tenantA}:tenant-token`],
    });
    server.addService<ProbeService>('penguinmails.test.v1.ProbeService', Probe, {
      echo: async (req: commonV1.PageRequest, _ctx: CallContext) => {
        // Echo the caller's value into a violation, as a careless handler would.
        if (req.pageToken.startsWith('echo:')) {
          const v = new Validator();
          v.add('page_token', 'BAD', `page_token ${req.pageToken} is not accepted`);
          v.done();
        }
        if (req.pageToken.startsWith('missing:')) throw new NotFoundError('thing', req.pageToken, `thing ${req.pageToken} not found`);
        return { nextPageToken: `ok:${req.pageSize}` };
      },
      list: async function* () {
        yield { nextPageToken: '' };
      },
    });
    port = await server.listen('127.0.0.1', 0);
  });
  afterAll(() => server.shutdown(1_000));

  const client = () => new ProbeClient(`127.0.0.1:${port}`, credentials.createInsecure()) as Client;
  function echo(req: Partial<commonV1.PageRequest>, token = 'service-token'): Promise<commonV1.PageResponse> {
    const md = new Metadata();
    md.set('authorization', `Bearer ${token}`);
    const c = client();
    return new Promise<commonV1.PageResponse>((resolve, reject) =>
      c.echo({ pageSize: 0, pageToken: '', ...req }, md, { deadline: Date.now() + 3_000 }, (err: ServiceError | null, res: commonV1.PageResponse) =>
        err ? reject(err) : resolve(res),
      ),
    ).finally(() => c.close());
  }
  const failure = (p: Promise<unknown>) => p.then(() => Promise.reject(new Error('expected a failure')), (e: ServiceError) => e);

  it('answers astral text cut mid-pair in a status, and keeps serving (the URIError crash)', async () => {
    for (const cut of [57, 58, 59, 299, 999]) {
      const e = await failure(echo({ pageToken: `echo:${'x'.repeat(cut - 5)}${ASTRAL.repeat(30)}` }));
      expect(e.code).toBe(status.INVALID_ARGUMENT);
      const nf = await failure(echo({ pageToken: `missing:${'y'.repeat(cut)}${ASTRAL.repeat(30)}` }));
      expect(nf.code).toBe(status.NOT_FOUND);
    }
    expect(await healthCheck(`127.0.0.1:${port}`)).toBe('SERVING');
  });

  it('answers a 70,000-character echo at once instead of hanging on oversized trailers', async () => {
    const started = Date.now();
    const e = await failure(echo({ pageToken: `echo:${'z'.repeat(70_000)}` }));
    expect(e.code).toBe(status.INVALID_ARGUMENT);
    expect(Date.now() - started).toBeLessThan(2_000);
  });

  function rawEcho(bytes: Buffer) {
    const Raw = makeGenericClientConstructor(
      { echo: { ...Probe.echo, requestSerialize: (b: Buffer) => b, responseDeserialize: (b: Buffer) => b } },
      'ProbeService',
    );
    const c = new Raw(`127.0.0.1:${port}`, credentials.createInsecure()) as unknown as Client;
    const md = new Metadata();
    md.set('authorization', 'Bearer service-token');
    return failure(
      new Promise((resolve, reject) =>
        c.echo(bytes, md, { deadline: Date.now() + 3_000 }, (err: unknown, res: unknown) => (err ? reject(err) : resolve(res))),
      ),
    ).finally(() => c.close());
  }
  // page_token is field 2 of PageRequest: tag 0x12, then the length.
  const pageToken = (bytes: number[]) => Buffer.from([0x12, bytes.length, ...bytes]);

  it('answers INVALID_ARGUMENT, not INTERNAL, for bytes that are not the request message', async () => {
    const e = await rawEcho(Buffer.from([0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f, 0x01]));
    expect(e.code).toBe(status.INVALID_ARGUMENT);
    expect(decodeStatus(e).fieldViolations[0].reason).toBe('MALFORMED_MESSAGE');
  });

  it('refuses NUL, encoded lone surrogates and malformed UTF-8 with INVALID_ARGUMENT naming the field', async () => {
    const e = await failure(echo({ pageToken: 'a\u0000b' }));
    expect(e.code).toBe(status.INVALID_ARGUMENT);
    expect(decodeStatus(e).fieldViolations.map((v) => v.field)).toEqual(['page_token']);
    // ED A0 BD is U+D83D written as UTF-8 (CESU): a lone surrogate a careless client can send;
    // C0 AF an overlong '/'; F4 90 80 80 beyond U+10FFFF; a lone byte; a cut sequence.
    for (const bytes of [[0x61, 0xed, 0xa0, 0xbd, 0x62], [0xc0, 0xaf], [0xf4, 0x90, 0x80, 0x80], [0xff], [0x61, 0xc3]]) {
      const bad = await rawEcho(pageToken(bytes));
      expect(bad.code).toBe(status.INVALID_ARGUMENT);
      expect(decodeStatus(bad).fieldViolations.map((v) => [v.field, v.reason])).toEqual([['page_token', 'MALFORMED_TEXT']]);
    }
    // A real U+FFFD and astral text are valid and pass.
    await expect(echo({ pageToken: '\uFFFD😀', pageSize: 1 })).resolves.toEqual({ nextPageToken: 'ok:1' });
  });

  it('keeps a tenant-bound token to its tenants: PERMISSION_DENIED for any other', async () => {
    // The probe request has no tenant_id: a tenant-bound token cannot name its tenant.
    expect((await failure(echo({}, 'tenant-token'))).code).toBe(status.PERMISSION_DENIED);
    expect((await failure(echo({}, 'wrong-token'))).code).toBe(status.UNAUTHENTICATED);
    await expect(echo({ pageSize: 3 }, 'service-token')).resolves.toEqual({ nextPageToken: 'ok:3' });
  });
});

describe('withTransaction inside a call carries its deadline to PostgreSQL', () => {
  let db: Awaited<ReturnType<typeof freshDatabase>>;
  let pool: ReturnType<typeof createPgPool>;
  beforeAll(async () => {
    db = await freshDatabase({ migrationsDir: `${__dirname}/fixtures/outbox-migrations` });
    pool = createPgPool(db.url, { max: 4 });
    await pool.query('create table t (id int primary key, v text)');
    await pool.query("insert into t values (1, 'before')");
  });
  afterAll(async () => {
    await pool.end();
    await db.drop();
  });
  const scope = (ms: number) => {
    const abort = new AbortController();
    setTimeout(() => abort.abort(), ms).unref();
    return { deadline: new Date(Date.now() + ms), signal: abort.signal };
  };

  it('a statement waiting past the deadline is cancelled by statement_timeout and nothing commits', async () => {
    const blocker = await pool.connect();
    await blocker.query('begin');
    await blocker.query("update t set v = 'blocker' where id = 1");
    const started = Date.now();
    const err = await runInCallScope(scope(300), () =>
      withTransaction(pool, async (c) => {
        await c.query("insert into t values (2, 'inside')");
        await c.query("update t set v = 'call' where id = 1"); // waits on the blocker's lock
      }),
    ).catch((e: Error) => e);
    expect(Date.now() - started).toBeLessThan(2_000);
    expect(toServiceError(err, 'test').code).toBe(status.DEADLINE_EXCEEDED);
    await blocker.query('rollback');
    blocker.release();
    expect((await pool.query('select id, v from t order by id')).rows).toEqual([{ id: 1, v: 'before' }]);
  });

  it('work that ends after the deadline is rolled back, not committed', async () => {
    const err = await runInCallScope(scope(150), () =>
      withTransaction(pool, async (c) => {
        await c.query("insert into t values (3, 'late')");
        await new Promise((r) => setTimeout(r, 300));
      }),
    ).catch((e: Error) => e);
    expect(toServiceError(err, 'test').code).toBe(status.DEADLINE_EXCEEDED);
    expect((await pool.query('select count(*)::int as n from t where id = 3')).rows[0].n).toBe(0);
  });

  it('outside a call nothing changes: the transaction commits', async () => {
    await withTransaction(pool, (c) => c.query("insert into t values (4, 'no scope')"));
    expect((await pool.query('select count(*)::int as n from t where id = 4')).rows[0].n).toBe(1);
  });
});

describe('transport limits and reflection are settings', () => {
  it('a request over GRPC_MAX_RECEIVE_BYTES is RESOURCE_EXHAUSTED; reflection can be switched off while health stays open', async () => {
    const server = createGrpcServer({
      service: 'probe',
      logger: createLogger({ service: 'probe', level: 'silent' }),
      reflection: false,
      limits: { maxReceiveBytes: 1024, maxConcurrentStreams: 4 },
    });
    server.addService<ProbeService>('penguinmails.test.v1.ProbeService', Probe, {
      echo: async (req: commonV1.PageRequest) => ({ nextPageToken: `len:${req.pageToken.length}` }),
      list: async function* () {
        yield { nextPageToken: '' };
      },
    });
    const port = await server.listen('127.0.0.1', 0);
    const c = new ProbeClient(`127.0.0.1:${port}`, credentials.createInsecure()) as Client;
    const echo = (pageToken: string) =>
      new Promise<commonV1.PageResponse>((resolve, reject) =>
        c.echo({ pageSize: 0, pageToken }, new Metadata(), { deadline: Date.now() + 3_000 }, (err: ServiceError | null, res: commonV1.PageResponse) =>
          err ? reject(err) : resolve(res),
        ),
      );
    await expect(echo('x'.repeat(500))).resolves.toEqual({ nextPageToken: 'len:500' });
    await expect(echo('x'.repeat(2_000))).rejects.toMatchObject({ code: status.RESOURCE_EXHAUSTED });
    expect(await healthCheck(`127.0.0.1:${port}`)).toBe('SERVING');
    await expect(reflectionListServices(`127.0.0.1:${port}`)).rejects.toMatchObject({ code: status.UNIMPLEMENTED });
    c.close();
    await server.shutdown(500);
  });
});
