import { Client } from 'pg';
import { DependencyMonitor, createGrpcServer, createLogger, createPgPool, natsCheck, postgresCheck } from '../src';
import { adminUrl, freshDatabase, healthCheck, natsTestContext, type FreshDatabase, type NatsTestContext } from '../../testkit/src';
import { Probe, type ProbeService } from './fixtures/probe-service';

const logger = createLogger({ service: 'test', level: 'silent' });
let db: FreshDatabase;
let nats: NatsTestContext;

beforeAll(async () => {
  db = await freshDatabase();
  nats = await natsTestContext();
});
afterAll(async () => {
  await nats.cleanup();
  await db.drop();
});

async function admin(sql: string) {
  const c = new Client({ connectionString: adminUrl() });
  await c.connect();
  try {
    await c.query(sql);
  } finally {
    await c.end();
  }
}

test('health follows the database: NOT_SERVING while it is gone, SERVING when it is back, NOT_SERVING for good on shutdown', async () => {
  const server = createGrpcServer({ service: 'probe', logger, authTokens: [] });
  server.addService<ProbeService>('penguinmails.test.v1.ProbeService', Probe, { echo: async () => ({}), list: async function* () {} });
  const port = await server.listen('127.0.0.1', 0);
  const addr = `127.0.0.1:${port}`;
  const pool = createPgPool(db.url, { max: 2, connectionTimeoutMillis: 1_000 });
  const monitor = new DependencyMonitor({ server, logger, checks: [postgresCheck(pool), natsCheck(nats.nc)], timeoutMs: 1_500 });

  expect(await monitor.checkOnce()).toEqual([]);
  expect(await healthCheck(addr)).toBe('SERVING');

  // The database disappears (dropped, as a stand-in for an outage).
  await admin(`drop database ${db.name} with (force)`);
  expect(await monitor.checkOnce()).toEqual(['postgres']);
  expect(await healthCheck(addr)).toBe('NOT_SERVING');
  expect(await healthCheck(addr, 'penguinmails.test.v1.ProbeService')).toBe('NOT_SERVING');

  // It comes back.
  await admin(`create database ${db.name}`);
  expect(await monitor.checkOnce()).toEqual([]);
  expect(await healthCheck(addr)).toBe('SERVING');

  // A check after shutdown began never flips it back.
  const stopping = server.shutdown(1_000);
  expect(await monitor.checkOnce()).toEqual([]);
  // New calls are refused by now, so read the status map (private in grpc-health-check) directly.
  expect((server.health as unknown as { statusMap: Map<string, string> }).statusMap.get('')).toBe('NOT_SERVING');
  await stopping;
  await pool.end();
});

test('a closed NATS connection is reported by name', async () => {
  const server = createGrpcServer({ service: 'probe', logger, authTokens: [] });
  const other = await natsTestContext();
  await other.nc.close();
  const monitor = new DependencyMonitor({ server, logger, checks: [natsCheck(other.nc)] });
  expect(await monitor.checkOnce()).toEqual(['nats']);
});
