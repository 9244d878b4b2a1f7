import { Writable } from 'node:stream';
import { z } from 'zod';
import { ConfigError, commonSettings, createLogger, loadConfig, natsSettings, paginationSettings, postgresSettings, redact, redactText } from '../src';

const shape = {
  ...commonSettings('metadata', 50051),
  ...postgresSettings,
  ...natsSettings,
  ...paginationSettings,
  CLICKHOUSE_PASSWORD: z.string().min(30).optional(),
  CLICKHOUSE_URL: z.string().url().refine((v) => v.startsWith('http'), 'must be http').optional(),
};

test('redact hides passwords, lone tokens and credential parameters, keeps what helps a fix', () => {
  expect(redact('postgres://app:s3cret@db:5432/x')).toBe('postgres://app:***@db:5432/x');
  expect(redact('nats://s3cret-token@nats:4222')).toBe('nats://***@nats:4222');
  expect(redact('postgres://db/x?password=s3cret&sslmode=require')).toBe('postgres://db/x?password=***&sslmode=require');
  expect(redact('nats://127.0.0.1:4222')).toBe('nats://127.0.0.1:4222');
  // Unparseable: scrubbed as text, not echoed.
  expect(redact('postgres//app:s3cret@db/x')).not.toContain('s3cret');
  expect(redact('nats://u:s3cret@a:4222,nats://u:s3cret@b:4222')).not.toContain('s3cret');
});

test('redactText scrubs credentials inside free text and leaves e-mail addresses alone', () => {
  expect(redactText('connect to postgres://app:s3cret@db/x failed')).toBe('connect to postgres://app:***@db/x failed');
  expect(redactText('host=db password=s3cret user=app')).toBe('host=db password=*** user=app');
  expect(redactText('{"email":"ada@example.com","msg":"lead created"}')).toBe('{"email":"ada@example.com","msg":"lead created"}');
  expect(redactText('{"url":"nats://u:s3cret@h:4222"}')).toBe('{"url":"nats://u:***@h:4222"}');
});

test('configuration errors never echo a secret, and show URLs without their credentials', () => {
  let err: ConfigError | undefined;
  try {
    loadConfig(shape, {
      DATABASE_URL: 'mysql://app:SENTINEL-db@h/x',
      NATS_URL: 'http://natsuser:SENTINEL-nats@h:4222',
      PAGE_TOKEN_SECRET: 'SENTINEL',
      CLICKHOUSE_PASSWORD: 'SENTINEL-ch',
      CLICKHOUSE_URL: 'ftp://default:SENTINEL-chu@h',
      GRPC_PORT: 'abc',
    });
  } catch (e) {
    err = e as ConfigError;
  }
  expect(err).toBeInstanceOf(ConfigError);
  expect(err!.message).not.toContain('SENTINEL');
  expect(err!.message).toContain('PAGE_TOKEN_SECRET: Too small: expected string to have >=16 characters (value hidden, 8 characters)');
  expect(err!.message).toMatch(/CLICKHOUSE_PASSWORD: .*\(value hidden, 11 characters\)/);
  expect(err!.message).toContain('(got "mysql://app:***@h/x")');
  expect(err!.message).toContain('(got "http://natsuser:***@h:4222/")');
  expect(err!.message).toContain('(got "ftp://default:***@h/")');
  // Values that are not secrets are still echoed: the fix stays obvious.
  expect(err!.message).toMatch(/GRPC_PORT: .*\(got "abc"\)/);
});

test('the logger censors secret keys and scrubs credentials out of every line', async () => {
  let out = '';
  const sink = new Writable({ write: (chunk, _enc, cb) => ((out += String(chunk)), cb()) });
  const logger = createLogger({ service: 'test', destination: sink });
  logger.info({ password: 'SENTINEL1', config: { token: 'SENTINEL2' }, headers: { authorization: 'Bearer SENTINEL3' } }, 'keys');
  logger.warn({ url: 'nats://u:SENTINEL4@h:4222' }, 'a url');
  logger.error({ err: new Error('could not reach postgres://app:SENTINEL5@db/x') }, 'a driver error');
  logger.info('message with nats://SENTINEL6@h:4222 inside');
  logger.info({ email: 'ada@example.com' }, 'personal data is not a secret');
  await new Promise((r) => setImmediate(r));
  expect(out).not.toContain('SENTINEL');
  const lines = out.trim().split('\n').map((l) => JSON.parse(l));
  expect(lines).toHaveLength(5);
  expect(lines[0].password).toBe('[redacted]');
  expect(lines[0].config.token).toBe('[redacted]');
  expect(lines[0].headers.authorization).toBe('[redacted]');
  expect(lines[1].url).toBe('nats://u:***@h:4222');
  expect(lines[2].err.message).toBe('could not reach postgres://app:***@db/x');
  expect(lines[4].email).toBe('ada@example.com');
});
