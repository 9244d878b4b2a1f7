import { z } from 'zod';
import { ConfigError, commonSettings, loadConfig, natsSettings, paginationSettings, postgresSettings } from '../src';

const shape = { ...commonSettings('metadata', 50051), ...postgresSettings, ...natsSettings, ...paginationSettings, EXTRA: z.coerce.number().int().default(3) };

test('defaults apply and values are typed', () => {
  const c = loadConfig(shape, { DATABASE_URL: 'postgres://u@h:5432/db', AUTH_TOKENS: 'a, b ,', LOG_PRETTY: 'true' });
  expect(c.GRPC_PORT).toBe(50051);
  expect(c.AUTH_TOKENS).toEqual(['a', 'b']);
  expect(c.LOG_PRETTY).toBe(true);
  expect(c.MIGRATE_ON_START).toBe(true);
  expect(c.NATS_URL).toBe('nats://127.0.0.1:4222');
  expect(c.EXTRA).toBe(3);
});

test('a bad setting names the variable and what is expected', () => {
  let err: ConfigError | undefined;
  try {
    loadConfig(shape, { DATABASE_URL: 'mysql://x', GRPC_PORT: '70000', NATS_URL: 'localhost:4222' });
  } catch (e) {
    err = e as ConfigError;
  }
  expect(err).toBeInstanceOf(ConfigError);
  const vars = err!.problems.map((p) => p.variable).sort();
  expect(vars).toEqual(['DATABASE_URL', 'GRPC_PORT', 'NATS_URL']);
  expect(err!.message).toMatch(/DATABASE_URL: must be a URL starting with postgres:\/\//);
});

test('a missing required setting says it is required', () => {
  expect(() => loadConfig(shape, {})).toThrow(/DATABASE_URL: is required/);
});

test('production refuses development-only defaults', () => {
  expect(() => loadConfig(shape, { NODE_ENV: 'production', DATABASE_URL: 'postgres://h/db' })).toThrow(/AUTH_TOKENS: is required in production[\s\S]*PAGE_TOKEN_SECRET/);
  const c = loadConfig(shape, { NODE_ENV: 'production', DATABASE_URL: 'postgres://h/db', AUTH_TOKENS: 't', PAGE_TOKEN_SECRET: 'x'.repeat(32) });
  expect(c.NODE_ENV).toBe('production');
});

test('a malformed number is reported as malformed, not as missing', () => {
  expect(() => loadConfig(shape, { DATABASE_URL: 'postgres://h/db', GRPC_PORT: 'abc' })).toThrow(/GRPC_PORT: .*\(got "abc"\)/);
});
