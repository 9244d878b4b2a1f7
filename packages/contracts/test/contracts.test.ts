import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { commonV1, descriptorSetPath } from '../src';

const here = join(__dirname, '..');

test('buf lint (STANDARD) passes on proto/', () => {
  const r = spawnSync(join(here, 'node_modules/.bin/buf'), ['lint', '../../proto'], { cwd: here, encoding: 'utf8' });
  expect(r.stdout + r.stderr).toBe('');
  expect(r.status).toBe(0);
});

test('buf breaking: proto/ keeps the contract of the previous commit', () => {
  const r = spawnSync('node', ['scripts/breaking.mjs'], { cwd: here, encoding: 'utf8' });
  expect(r.stderr).toBe('');
  expect(r.status).toBe(0);
  expect(r.stdout).toMatch(/buf breaking: (no breaking change|skipped)/);
});

test('the generated code round-trips an event envelope', () => {
  const env: commonV1.EventEnvelope = {
    eventId: '3f1c2b0e-8d4a-4c1e-9b7a-2a6f0c5d9e11',
    tenantId: '6f1c2b0e-8d4a-4c1e-9b7a-2a6f0c5d9e12',
    eventType: 'penguinmails.metadata.v1.MessageRecorded',
    occurredAt: new Date('2026-11-25T10:00:00.123Z'),
    source: 'metadata',
    payload: Buffer.from([1, 2, 3]),
  };
  const back = commonV1.EventEnvelope.decode(commonV1.EventEnvelope.encode(env).finish());
  expect(back).toEqual(env);
});

test('the descriptor set for reflection is generated and holds every proto package', () => {
  const bytes = readFileSync(descriptorSetPath);
  const text = bytes.toString('latin1');
  for (const pkg of ['penguinmails.common.v1', 'google.rpc']) expect(text).toContain(pkg);
});
