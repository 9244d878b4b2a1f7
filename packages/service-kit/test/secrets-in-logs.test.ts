// Runs the four services' real processes (services/<name>/dist/main.js, built by `npm test`
// before any test runs) with known sentinel secrets in their settings, and scans everything
// they write (stdout and stderr) for them: configuration errors, a PostgreSQL and a NATS that
// do not answer, and a normal start, authenticated calls and shutdown. Each case also asserts
// the line it expects, so a process that printed nothing would not pass.
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { jetstreamManager } from '@nats-io/jetstream';
import { Metadata, status as Status, type ServiceError } from '@grpc/grpc-js';
import { analyticsV1, contentV1, metadataV1, queueV1 } from '@penguinmails/contracts';
import { call, connect } from '../src';
import { freshDatabase, natsTestContext, natsUrl, type FreshDatabase, type NatsTestContext } from '../../testkit/src';

const SENTINEL = 'SENTINEL';
const secrets = {
  dbPassword: `${SENTINEL}dbpw`,
  natsPassword: `${SENTINEL}natspw`,
  natsToken: `${SENTINEL}natstoken`,
  chPassword: `${SENTINEL}chpw`,
  authToken: `${SENTINEL}token-1`,
  otherAuthToken: `${SENTINEL}token-2`,
  wrongToken: `${SENTINEL}wrong-token`,
  pageSecret: `${SENTINEL}page-token-secret-long-enough`,
  shortPageSecret: `${SENTINEL}short`,
};

type Service = 'metadata' | 'content' | 'queue' | 'analytics';
const PG_SERVICES = ['metadata', 'content', 'queue'] as const;
const root = resolve(__dirname, '../../..');
const mainOf = (s: Service) => join(root, 'services', s, 'dist', 'main.js');

interface Run {
  output(): string;
  exited: Promise<number | null>;
  waitFor(pattern: RegExp, ms?: number): Promise<void>;
  stop(): Promise<number | null>;
}

/** Starts a service with only the given settings (nothing inherited but PATH and HOME). */
function run(service: Service, env: Record<string, string>): Run {
  const child = spawn(process.execPath, [mainOf(service)], {
    cwd: join(root, 'services', service),
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? tmpdir(), LOG_LEVEL: 'debug', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout.on('data', (b: Buffer) => (out += b.toString()));
  child.stderr.on('data', (b: Buffer) => (out += b.toString()));
  const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
  return {
    output: () => out,
    exited,
    waitFor: async (pattern, ms = 30_000) => {
      const end = Date.now() + ms;
      while (!pattern.test(out)) {
        if (child.exitCode !== null || Date.now() > end) throw new Error(`${service}: ${pattern} not seen; output:\n${out}`);
        await new Promise((r) => setTimeout(r, 50));
      }
    },
    stop: async () => {
      if (child.exitCode === null) child.kill('SIGTERM');
      return exited;
    },
  };
}

/** A port nothing listens on (bound, then released). */
async function deadPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as { port: number };
  await new Promise((r) => server.close(r));
  return port;
}

function expectNoSecret(service: string, output: string) {
  const lines = output.split('\n').filter((l) => l.includes(SENTINEL));
  // Name the service and the line, so a failure says where the leak is.
  expect({ service, leaking: lines }).toEqual({ service, leaking: [] });
}

function withPassword(url: string, password: string): string {
  const u = new URL(url);
  u.username ||= 'postgres';
  u.password = password;
  return u.toString();
}

beforeAll(() => {
  const missing = (['metadata', 'content', 'queue', 'analytics'] as const).filter((s) => !existsSync(mainOf(s)));
  if (missing.length) throw new Error(`build the services first (npm run build): no dist/main.js for ${missing.join(', ')}`);
});

test('configuration errors name the variable but never echo a secret', async () => {
  const pgRuns = PG_SERVICES.map((s) =>
    run(s, {
      DATABASE_URL: `mysql://app:${secrets.dbPassword}@127.0.0.1/x`,
      NATS_URL: `http://natsuser:${secrets.natsPassword}@127.0.0.1:4222`,
      PAGE_TOKEN_SECRET: secrets.shortPageSecret,
      AUTH_TOKENS: secrets.authToken,
    }),
  );
  const analytics = run('analytics', { CLICKHOUSE_URL: `ftp://default:${secrets.chPassword}@127.0.0.1`, AUTH_TOKENS: secrets.authToken, GRPC_PORT: 'x' });
  for (const [i, r] of pgRuns.entries()) {
    expect(await r.exited).toBe(1);
    const out = r.output();
    expect(out).toContain(`${PG_SERVICES[i]}: invalid configuration`);
    expect(out).toContain('DATABASE_URL: must be a URL starting with postgres:// or postgresql:// (got "mysql://app:***@127.0.0.1/x")');
    expect(out).toContain('NATS_URL: must be a URL starting with nats://');
    expect(out).toContain(`PAGE_TOKEN_SECRET: Too small: expected string to have >=16 characters (value hidden, ${secrets.shortPageSecret.length} characters)`);
    expectNoSecret(PG_SERVICES[i], out);
  }
  expect(await analytics.exited).toBe(1);
  expect(analytics.output()).toContain('CLICKHOUSE_URL: must be a URL starting with http:// or https:// (got "ftp://default:***@127.0.0.1/")');
  expect(analytics.output()).toMatch(/GRPC_PORT: .*\(got "x"\)/);
  expectNoSecret('analytics', analytics.output());
});

test('a database that does not answer is reported without its password', async () => {
  const port = await deadPort();
  const common = { NATS_URL: natsUrl(), PAGE_TOKEN_SECRET: secrets.pageSecret, AUTH_TOKENS: secrets.authToken };
  const runs = PG_SERVICES.map((s, i) =>
    run(s, {
      ...common,
      DATABASE_URL: `postgres://postgres:${secrets.dbPassword}@127.0.0.1:${port}/x?application_name=probe`,
      // One service skips the migration, so the pool's own start-up check is covered too.
      MIGRATE_ON_START: i === 2 ? 'false' : 'true',
    }),
  );
  const analytics = run('analytics', {
    CLICKHOUSE_URL: `http://default:${secrets.chPassword}@127.0.0.1:${port}`,
    CLICKHOUSE_PASSWORD: secrets.chPassword,
    CLICKHOUSE_REQUEST_TIMEOUT_MS: '2000',
    AUTH_TOKENS: secrets.authToken,
  });
  for (const [i, r] of runs.entries()) {
    expect(await r.exited).toBe(1);
    expect(r.output()).toContain(`${PG_SERVICES[i]}: failed to start: PostgreSQL at postgres://postgres:***@127.0.0.1:${port}/x?application_name=probe did not answer`);
    expectNoSecret(PG_SERVICES[i], r.output());
  }
  expect(await analytics.exited).toBe(1);
  expect(analytics.output()).toContain(`analytics: failed to start: ClickHouse at http://default:***@127.0.0.1:${port}/ does not answer`);
  expectNoSecret('analytics', analytics.output());
});

describe('with PostgreSQL', () => {
  const dbs: FreshDatabase[] = [];
  let nats: NatsTestContext;
  beforeAll(async () => {
    nats = await natsTestContext();
    for (let i = 0; i < PG_SERVICES.length; i++) dbs.push(await freshDatabase({ prefix: 'pm_secrets' }));
  });
  afterAll(async () => {
    await nats?.cleanup();
    for (const db of dbs) await db.drop();
  });

  test('a NATS that does not answer is reported without its credentials, token or password', async () => {
    const port = await deadPort();
    const common = { PAGE_TOKEN_SECRET: secrets.pageSecret, AUTH_TOKENS: secrets.authToken, EVENTS_SUBJECT_PREFIX: nats.subjectPrefix, EVENTS_STREAM_PREFIX: nats.streamPrefix };
    const withUser = run('metadata', { ...common, DATABASE_URL: withPassword(dbs[0].url, secrets.dbPassword), NATS_URL: `nats://natsuser:${secrets.natsPassword}@127.0.0.1:${port}` });
    const withToken = run('queue', { ...common, DATABASE_URL: withPassword(dbs[2].url, secrets.dbPassword), NATS_URL: `nats://${secrets.natsToken}@127.0.0.1:${port}` });
    expect(await withUser.exited).toBe(1);
    expect(await withToken.exited).toBe(1);
    // Every failed attempt is logged, with the URL, redacted.
    expect(withUser.output()).toContain(`"url":"nats://natsuser:***@127.0.0.1:${port}"`);
    expect(withUser.output()).toMatch(/NATS not reachable yet/);
    expect(withUser.output()).toContain(`metadata: failed to start: NATS at nats://natsuser:***@127.0.0.1:${port} did not answer after 10 attempts`);
    expect(withToken.output()).toContain(`queue: failed to start: NATS at nats://***@127.0.0.1:${port} did not answer after 10 attempts`);
    expectNoSecret('metadata', withUser.output());
    expectNoSecret('queue', withToken.output());
  });

  test('a normal start, calls with bearer tokens and a shutdown log no secret', async () => {
    // nats-server without authorisation configured (as here) accepts any user and password.
    const natsWithUser = new URL(natsUrl());
    natsWithUser.username = 'natsuser';
    natsWithUser.password = secrets.natsPassword;
    const chdbPath = mkdtempSync(join(tmpdir(), 'pm-secrets-chdb-'));
    const ports = await Promise.all([0, 1, 2, 3].map(() => deadPort()));
    const common = {
      NATS_URL: natsWithUser.toString(),
      AUTH_TOKENS: `${secrets.authToken},${secrets.otherAuthToken}`,
      PAGE_TOKEN_SECRET: secrets.pageSecret,
      EVENTS_SUBJECT_PREFIX: nats.subjectPrefix,
      EVENTS_STREAM_PREFIX: nats.streamPrefix,
      GRPC_HOST: '127.0.0.1',
      HEALTH_CHECK_INTERVAL_MS: '200',
      OUTBOX_POLL_MS: '100',
    };
    const runs = {
      metadata: run('metadata', { ...common, GRPC_PORT: String(ports[0]), DATABASE_URL: withPassword(dbs[0].url, secrets.dbPassword) }),
      content: run('content', { ...common, GRPC_PORT: String(ports[1]), DATABASE_URL: withPassword(dbs[1].url, secrets.dbPassword) }),
      queue: run('queue', { ...common, GRPC_PORT: String(ports[2]), DATABASE_URL: withPassword(dbs[2].url, secrets.dbPassword) }),
      // The test's NATS names too: on the defaults, analytics declared the platform's PM_* streams
      // on the shared NATS (and left them there).
      analytics: run('analytics', {
        AUTH_TOKENS: common.AUTH_TOKENS,
        NATS_URL: common.NATS_URL,
        EVENTS_SUBJECT_PREFIX: nats.subjectPrefix,
        EVENTS_STREAM_PREFIX: nats.streamPrefix,
        GRPC_HOST: '127.0.0.1',
        GRPC_PORT: String(ports[3]),
        CHDB_PATH: chdbPath,
        CLICKHOUSE_PASSWORD: secrets.chPassword,
      }),
    };
    try {
      await Promise.all(Object.values(runs).map((r) => r.waitFor(/gRPC server listening/, 45_000)));
      const address = (i: number) => `127.0.0.1:${ports[i]}`;
      const clients = {
        metadata: (token: string) => connect(metadataV1.MetadataServiceClient, address(0), { token }),
        content: (token: string) => connect(contentV1.ContentServiceClient, address(1), { token }),
        queue: (token: string) => connect(queueV1.QueueServiceClient, address(2), { token }),
        analytics: (token: string) => connect(analyticsV1.AnalyticsServiceClient, address(3), { token }),
      };
      const codeOf = (p: Promise<unknown>) => p.then(() => Status.OK, (e: ServiceError) => e.code);
      const calls = (token: string) => [
        // A call the service accepts ...
        codeOf(call(clients.metadata(token), 'createTenant', { tenantId: '', name: 'Acme' })),
        // ... and requests the services refuse, so their error paths log too.
        codeOf(call(clients.content(token), 'putContent', contentV1.PutContentRequest.fromPartial({}))),
        codeOf(call(clients.queue(token), 'enqueueJob', queueV1.EnqueueJobRequest.fromPartial({}))),
        codeOf(call(clients.analytics(token), 'ingestEvents', analyticsV1.IngestEventsRequest.fromPartial({ events: [{}] }))),
      ];
      const accepted = await Promise.all(calls(secrets.authToken));
      expect(accepted).toEqual([Status.OK, Status.INVALID_ARGUMENT, Status.INVALID_ARGUMENT, Status.INVALID_ARGUMENT]);
      expect(await Promise.all(calls(secrets.wrongToken))).toEqual([1, 2, 3, 4].map(() => Status.UNAUTHENTICATED));
      // A write that emits an event (LeadCreated), relayed through the outbox to NATS.
      const { tenant } = await call(clients.metadata(secrets.authToken), 'createTenant', { tenantId: '', name: 'Leads' });
      await call(clients.metadata(secrets.authToken), 'createLead', {
        tenantId: tenant!.id,
        lead: { email: 'jane@lead.example', firstName: 'Jane', lastName: 'Doe', company: 'Lead Co', customFields: { tier: 'gold' }, status: 0 },
      });
      // With the caller's metadata carrying a token the server never sees as auth.
      const md = new Metadata();
      md.set('x-api-key', secrets.authToken);
      await call(clients.metadata(secrets.otherAuthToken), 'createTenant', { tenantId: '', name: 'Beta' }, { metadata: md });

      // The relay has published the event through the NATS connection with credentials.
      const jsm = await jetstreamManager(nats.nc);
      const stream = nats.names.stream('metadata');
      const end = Date.now() + 10_000;
      while ((await jsm.streams.info(stream)).state.messages < 1) {
        if (Date.now() > end) throw new Error('the outbox relay did not publish');
        await new Promise((r) => setTimeout(r, 100));
      }
      expect((await jsm.streams.info(stream)).config.max_age).toBe(7 * 24 * 3600_000 * 1_000_000);
    } finally {
      for (const [name, r] of Object.entries(runs)) expect({ name, code: await r.stop() }).toEqual({ name, code: 0 });
      rmSync(chdbPath, { recursive: true, force: true });
    }
    for (const [name, r] of Object.entries(runs)) {
      expect(r.output()).toMatch(/"msg":"shutting down"/);
      expectNoSecret(name, r.output());
    }
    expect(runs.metadata.output()).toMatch(/"msg":"metadata service ready"/);
    expect(runs.metadata.output()).toMatch(/"code":"OK","msg":"rpc"/);
  });
});
