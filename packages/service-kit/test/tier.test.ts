import { join } from 'node:path';
import { jetstreamManager } from '@nats-io/jetstream';
import { createLogger, openPostgresTier, tlsFromSettings } from '../src';
import { freshDatabase, natsTestContext, type FreshDatabase, type NatsTestContext } from '../../testkit/src';

const logger = createLogger({ service: 'test', level: 'silent' });
const migrationsDir = join(__dirname, 'fixtures/outbox-migrations');
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

const settings = () => ({
  SERVICE_NAME: 'test',
  DATABASE_URL: db.url,
  DATABASE_POOL_MAX: 2,
  MIGRATE_ON_START: true,
  NATS_URL: nats.url,
  EVENTS_SUBJECT_PREFIX: nats.subjectPrefix,
  EVENTS_STREAM_PREFIX: nats.streamPrefix,
  EVENTS_DUPLICATE_WINDOW_MS: 120_000,
  EVENTS_MAX_AGE_MS: 86_400_000,
});

test('opens a tier: migrates, declares the stream with its duplicate window, and closes cleanly', async () => {
  const tier = await openPostgresTier('content', settings(), { migrationsDir, logger });
  expect((await tier.pool.query("select to_regclass('outbox_events') is not null as ok")).rows[0].ok).toBe(true);
  const info = await (await jetstreamManager(nats.nc)).streams.info(nats.names.stream('content'));
  expect(info.config.subjects).toEqual([nats.names.tierSubjects('content')]);
  expect(info.config.duplicate_window).toBe(120_000 * 1_000_000);
  expect(info.config.max_age).toBe(86_400_000 * 1_000_000);
  await tier.close();
  expect(tier.pool.ending).toBe(true);
});

test('a database that does not answer is one line naming the URL without its password', async () => {
  const s = { ...settings(), MIGRATE_ON_START: false, DATABASE_URL: 'postgres://postgres:hunter2@127.0.0.1:1/x' };
  const err = await openPostgresTier('content', s, { migrationsDir, logger }).catch((e: Error) => e);
  expect(err).toBeInstanceOf(Error);
  expect((err as Error).message).toMatch(/^PostgreSQL at postgres:\/\/postgres:\*\*\*@127\.0\.0\.1:1\/x did not answer .*fix DATABASE_URL$/);
  expect((err as Error).message).not.toContain('hunter2');
});

test('TLS settings: both files or plaintext, never half', () => {
  expect(tlsFromSettings({})).toBeUndefined();
  expect(() => tlsFromSettings({ TLS_CERT: 'c.pem' })).toThrow(/TLS_KEY: is required when TLS_CERT is set/);
  expect(() => tlsFromSettings({ TLS_KEY: 'k.pem' })).toThrow(/TLS_CERT: is required/);
  expect(() => tlsFromSettings({ TLS_CLIENT_CA: 'ca.pem' })).toThrow(/TLS_CLIENT_CA/);
  expect(tlsFromSettings({ TLS_CERT: 'c.pem', TLS_KEY: 'k.pem', TLS_CLIENT_CA: 'ca.pem' })).toEqual({ cert: 'c.pem', key: 'k.pem', clientCa: 'ca.pem' });
});
