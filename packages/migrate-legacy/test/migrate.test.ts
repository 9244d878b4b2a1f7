// The migration end to end: the four real services (startPlatform) and a fresh legacy database.
import { randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from 'pg';
import { createPlatform, type PenguinMails } from '@penguinmails/sdk';
import { freshDatabase, startPlatform, type FreshDatabase, type Platform } from '@penguinmails/testkit';
import { generateLegacy, LEGACY_MIGRATIONS } from '../src/generate';
import { runMigration } from '../src/migrate';
import { verifyMigration } from '../src/verify';
import { pages } from '../src/refs';

let platform: Platform;
let pm: PenguinMails;
let legacy: FreshDatabase;
let db: Client;
const rejectsFile = join(mkdtempSync(join(tmpdir(), 'mig-')), 'rejects.jsonl');
const opts = { batchSize: 40, rejectsFile, maxBodyBytes: 150_000 };
const bad: Record<string, string> = {};

beforeAll(async () => {
  [platform, legacy] = await Promise.all([startPlatform(), freshDatabase({ migrationsDir: LEGACY_MIGRATIONS, prefix: 'pm_legacy' })]);
  pm = createPlatform({ addresses: platform.addresses }, { env: {} });
  db = new Client({ connectionString: legacy.url });
  await db.connect();
  await generateLegacy(db, { rows: 160, tenants: 3, attachmentShare: 0.1 });
  // Four bad rows, copies of a good one with one thing wrong each.
  const base = (await db.query(`select * from emails where parent_message_id is null and direction = 'outbound' order by created limit 1`)).rows[0];
  const copy = async (name: string, change: Record<string, unknown>) => {
    const row = { ...base, id: randomUUID(), provider_message_id: `<${randomUUID()}@legacy.test>`, created: new Date(base.created.getTime() + 1000), ...change };
    const cols = Object.keys(row);
    await db.query(`insert into emails (${cols.join(',')}) values (${cols.map((_, i) => `$${i + 1}`).join(',')})`, cols.map((c) => (c === 'headers' ? JSON.stringify(row[c]) : row[c])));
    bad[name] = row.id;
  };
  await copy('long', { to_email: `${'x'.repeat(260)}@example.com` });
  await copy('type', { message_type: 'newsletter' });
  await copy('parent', { parent_message_id: randomUUID(), direction: 'inbound', status: 'received' });
  await copy('body', { content_text: 'y'.repeat(200_000) });
});
afterAll(async () => {
  pm?.close();
  await db?.end();
  await platform?.stop();
  await legacy?.drop();
});

async function refCount(): Promise<number> {
  let n = 0;
  for (const t of (await db.query('select id from tenants')).rows)
    for await (const m of pages((token) => pm.metadata.listMessages({ tenantId: t.id, page: { pageSize: 500, pageToken: token } }), (r) => r.messages)) { void m; n++; }
  return n;
}

test('killed after a batch reached the tiers (before its checkpoint), resumed: verify agrees, bad rows are in the rejects file', async () => {
  const total = Number((await db.query('select count(*) from emails')).rows[0].count);
  await expect(runMigration(db, pm, { ...opts, afterBatchWritten: (b) => { if (b === 2) throw new Error('killed'); } })).rejects.toThrow('killed');
  const cp = (await db.query('select rows_done from migrate_checkpoint')).rows[0];
  expect(Number(cp.rows_done)).toBe(40); // batch 2 wrote to the tiers, its checkpoint did not commit

  const lines: string[] = [];
  const r = await runMigration(db, pm, { ...opts, progress: (l) => lines.push(l) });
  expect(lines.at(-1)).toMatch(/rows\/s, ETA/);
  expect(r.migrated).toBeGreaterThan(0);
  expect(Number((await db.query('select count(*) from migrate_rejects')).rows[0].count)).toBe(4);
  const rejects = readFileSync(rejectsFile, 'utf8').trim().split('\n').map((l) => JSON.parse(l));
  expect(rejects.map((x) => x.legacy_id).sort()).toEqual(Object.values(bad).sort());
  const reason = (id: string) => rejects.find((x) => x.legacy_id === id).reason;
  expect(reason(bad.long)).toMatch(/to_email longer than 254/);
  expect(reason(bad.type)).toMatch(/unknown message_type "newsletter"/);
  expect(reason(bad.parent)).toMatch(/missing parent/);
  expect(reason(bad.body)).toMatch(/body over the limit/);

  expect(await refCount()).toBe(total - 4); // batch 2 redone: no duplicate ref
  const v = await verifyMigration(db, pm);
  expect(v.differences).toEqual([]);
  expect(v.ok).toBe(true);
  expect(v.checked).toBe(total - 4);
});

test('running again changes nothing, also when the checkpoint is reset and every row is redone', async () => {
  const before = await refCount();
  const again = await runMigration(db, pm, opts);
  expect(again).toMatchObject({ migrated: 0, rejected: 0, batches: 0 });
  await db.query('update migrate_checkpoint set last_created = null, last_id = null, rows_done = 0');
  const redo = await runMigration(db, pm, opts);
  expect(redo.rejected).toBe(4);
  expect(await refCount()).toBe(before);
  expect(readFileSync(rejectsFile, 'utf8').trim().split('\n')).toHaveLength(4); // not listed twice
  expect((await verifyMigration(db, pm)).differences).toEqual([]);
});

test('verify reports a difference and fails when a legacy row changes after the migration', async () => {
  const id = (await db.query(`select legacy_id from migrate_map where kind = 'email' limit 1`)).rows[0].legacy_id;
  await db.query(`update emails set subject = 'changed after migration', content_html = '<p>new</p>' where id = $1`, [id]);
  const v = await verifyMigration(db, pm);
  expect(v.ok).toBe(false);
  expect(v.differences.join('\n')).toMatch(new RegExp(`${id}.*subject legacy "changed after migration"`));
  expect(v.differences.join('\n')).toMatch(new RegExp(`${id}.*content checksum`));
});
