import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { cpSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { call, migratePostgres } from '@penguinmails/service-kit';
import { freshDatabase, type FreshDatabase } from '@penguinmails/testkit';
import { Client } from 'pg';
import { MIGRATIONS_DIR } from '../src/migrations-dir';
import { asStrings, recount, startContent, type Harness } from './harness';

// The usage migration (20261221120000_usage_retention) on a database that already holds data of
// the version before it: its backfill must count what is stored, so that GetUsage equals a full
// recount right after the upgrade, and stays equal once the new version's triggers take over.
// (usage.test.ts covers the triggers on a database that was empty when the migration ran.)

const USAGE_MIGRATION = '20261221120000_usage_retention';
const HOUR = 3_600_000;

let dir: string;
let db: FreshDatabase;
let h: Harness;
const [a, b, c] = [randomUUID(), randomUUID(), randomUUID()];
const sha = (buf: Buffer) => createHash('sha256').update(buf).digest();

beforeAll(async () => {
  // The migrations of the previous version: every folder before the usage migration.
  dir = mkdtempSync(join(tmpdir(), 'pm-content-previous-'));
  for (const name of readdirSync(MIGRATIONS_DIR).filter((n) => n < USAGE_MIGRATION)) cpSync(join(MIGRATIONS_DIR, name), join(dir, name), { recursive: true });
  db = await freshDatabase({ migrationsDir: dir });

  // Rows as the previous version wrote them (its schema has no usage tables or triggers).
  const pg = new Client({ connectionString: db.url });
  await pg.connect();
  try {
    const body = (tenant: string, key: string, text: string | null, html: string | null, headers: object | null, expiresInHours?: number) =>
      pg.query(
        `insert into content_objects (storage_key, tenant_id, content_text, content_html, headers, raw_size_bytes, expires)
         values ($1, $2, $3, $4, $5, $6, $7)`,
        [`${tenant}/${key}`, tenant, text, html, headers, (text?.length ?? 0) + (html?.length ?? 0), expiresInHours === undefined ? null : new Date(Date.now() + expiresInHours * HOUR)],
      );
    await body(a, '2026/11/one', 'Grüße aus Köln — ✉️'.repeat(20), '<p>hello</p>', { Subject: 'Hi', Received: ['x', 'y'] });
    await body(a, '2026/11/two', 'plain only', null, null, 12);
    await body(a, '2026/11/three', 'x'.repeat(5_000), '<b>'.repeat(700), { 'X-Campaign': 'c-1' }, 24 * 10);
    await body(a, 'transactional/welcome', 'Welcome!', '<h1>Welcome</h1>', { Subject: 'Welcome' });
    await body(b, '2026/11/only', 'é'.repeat(321), null, { Subject: 'B' }, 48);
    // Attachments: two of a's objects share one blob (ref_count 2), one has its own, and one
    // attachment of the first version still carries its bytes inline (no blob).
    const logo = randomBytes(4_096);
    const own = randomBytes(1_500);
    const blob = (tenant: string, bytes: Buffer, refs: number) =>
      pg.query(`insert into blobs (tenant_id, sha256, size_bytes, content, ref_count) values ($1, $2, $3, $4, $5)`, [tenant, sha(bytes), bytes.length, bytes, refs]);
    const attachment = (tenant: string, parent: string, bytes: Buffer, inline = false) =>
      pg.query(
        `insert into attachments (id, tenant_id, parent_storage_key, filename, mime_type, size_bytes, content, sha256)
         values ($1, $2, $3, 'f.bin', 'application/pdf', $4, $5, $6)`,
        [randomUUID(), tenant, `${tenant}/${parent}`, bytes.length, inline ? bytes : null, inline ? null : sha(bytes)],
      );
    await blob(a, logo, 2);
    await blob(a, own, 1);
    await blob(b, logo, 1); // the same bytes under another tenant: its own blob
    await attachment(a, '2026/11/one', logo);
    await attachment(a, '2026/11/two', logo);
    await attachment(a, '2026/11/three', own);
    await attachment(a, '2026/11/three', randomBytes(777), true);
    await attachment(b, '2026/11/only', logo);
    const email = (tenant: string, bodyKey: string | null) =>
      pg.query(
        `insert into transactional_emails (id, tenant_id, recipient_email, kind, subject, body_storage_key) values ($1, $2, 'u@example.com', 'welcome', 'Welcome', $3)`,
        [randomUUID(), tenant, bodyKey === null ? null : `${tenant}/${bodyKey}`],
      );
    await email(a, 'transactional/welcome');
    await email(a, null);
    await email(c, null); // a tenant with transactional emails only
  } finally {
    await pg.end();
  }

  // The upgrade: the usage migration (with its backfill) and every later one.
  const { applied } = await migratePostgres({ databaseUrl: db.url, migrationsDir: MIGRATIONS_DIR });
  expect(applied[0]).toBe(USAGE_MIGRATION);
  h = await startContent({ db });
}, 60_000);

afterAll(async () => {
  await h?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

const usage = (tenantId: string) => call(h.client, 'getUsage', { tenantId });

test('right after the upgrade, GetUsage of every tenant equals a full recount of the rows the previous version wrote', async () => {
  for (const t of [a, b, c]) expect(asStrings(await usage(t))).toEqual(await recount(h.pool, t));
  // and the figures are the seeded ones, not zeros that happen to agree with an empty recount
  const ua = asStrings(await usage(a));
  expect(ua.bodies.count).toBe('4');
  expect(ua.transactionalBodies.count).toBe('1');
  expect(ua.attachments.count).toBe('4');
  expect(ua.attachmentBlobs.count).toBe('2');
  expect(ua.transactionalEmails).toBe('2');
  expect(ua.expiring).toEqual({ nextDay: '1', nextWeek: '1', nextMonth: '2' });
  expect(asStrings(await usage(c)).transactionalEmails).toBe('1');
});

test("after the upgrade the new version's writes and deletes keep the backfilled counters equal to a recount", async () => {
  const put = await call(h.client, 'putContent', {
    tenantId: a,
    storageKey: '',
    contentText: 'after the upgrade',
    contentHtml: '',
    headers: { Subject: 'new' },
    rawSizeBytes: 0n,
    expires: undefined,
  });
  await call(h.client, 'addAttachment', {
    tenantId: a,
    parentStorageKey: put.content!.storageKey,
    filename: 'g.bin',
    mimeType: 'application/pdf',
    content: randomBytes(2_000),
    storageDisposition: 0,
    attachmentId: '',
  });
  // a body of the previous version with its two attachments (one blob shared, one inline) goes
  await call(h.client, 'deleteContent', { tenantId: a, storageKey: `${a}/2026/11/three` });
  await call(h.client, 'deleteContent', { tenantId: b, storageKey: `${b}/2026/11/only` });
  for (const t of [a, b, c]) expect(asStrings(await usage(t))).toEqual(await recount(h.pool, t));
  const ub = asStrings(await usage(b));
  expect(ub.bodies).toEqual({ count: '0', bytes: '0' });
  expect(ub.attachmentBlobs).toEqual({ count: '0', bytes: '0' });
});
