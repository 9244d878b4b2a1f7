// The migration end to end: the four real services (startPlatform) and a fresh legacy database.
import { randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from 'pg';
import { createPlatform, metadataV1, type PenguinMails } from '@penguinmails/sdk';
import { freshDatabase, startPlatform, type FreshDatabase, type Platform } from '@penguinmails/testkit';
import { generateLegacy, LEGACY_MIGRATIONS } from '../src/generate';
import { catchUp, runMigration, storageKeyOf } from '../src/migrate';
import { archive, readState, restore, rollback, switchOver } from '../src/phases';
import { verifyMigration } from '../src/verify';
import { countRefs, historyAgrees, FOR_HISTORY } from './history';

let platform: Platform;
let pm: PenguinMails;
let legacy: FreshDatabase;
let db: Client;
const rejectsFile = join(mkdtempSync(join(tmpdir(), 'mig-')), 'rejects.jsonl');
const opts = { batchSize: 40, rejectsFile, maxBodyBytes: 150_000 };
const bad: Record<string, string> = {};
let base: Record<string, unknown> & { created: Date };
let laterParent = '';
let earlyReply = '';

/** Inserts a copy of the base row with `change` applied; returns its id. */
async function copy(change: Record<string, unknown>): Promise<string> {
  // `updated` left to its default (now()), as the application's inserts do.
  const { updated: _updated, ...rest } = base;
  const row: Record<string, unknown> = { ...rest, id: randomUUID(), provider_message_id: `<${randomUUID()}@legacy.test>`, created: new Date(base.created.getTime() + 1000), ...change };
  const cols = Object.keys(row);
  await db.query(`insert into emails (${cols.join(',')}) values (${cols.map((_, i) => `$${i + 1}`).join(',')})`, cols.map((c) => (c === 'headers' ? JSON.stringify(row[c]) : row[c])));
  return row.id as string;
}

beforeAll(async () => {
  [platform, legacy] = await Promise.all([startPlatform(FOR_HISTORY), freshDatabase({ migrationsDir: LEGACY_MIGRATIONS, prefix: 'pm_legacy' })]);
  pm = createPlatform({ addresses: platform.addresses }, { env: {} });
  db = new Client({ connectionString: legacy.url });
  await db.connect();
  await generateLegacy(db, { rows: 160, tenants: 3, attachmentShare: 0.1 });
  // Four bad rows, copies of a good one with one thing wrong each.
  base = (await db.query(`select * from emails where parent_message_id is null and direction = 'outbound' and campaign_id is not null order by created limit 1`)).rows[0];
  bad.long = await copy({ to_email: `${'x'.repeat(260)}@example.com` });
  bad.type = await copy({ message_type: 'newsletter' });
  bad.parent = await copy({ parent_message_id: randomUUID(), direction: 'inbound', status: 'received' });
  bad.body = await copy({ content_text: 'y'.repeat(200_000) });
  // A reply created a day before its parent (clocks of the old system): the keyset pass meets it
  // first, in another batch; it waits and the catch-up brings it over once the parent is there.
  const span = (await db.query(`select min(created) as lo, max(created) as hi from emails`)).rows[0];
  laterParent = await copy({ created: new Date(span.hi.getTime() + 86_400_000), subject: 'parent created after its reply', processed: null });
  earlyReply = await copy({ created: new Date(span.lo.getTime() - 86_400_000), direction: 'inbound', status: 'received', parent_message_id: laterParent, from_email: base.to_email, to_email: base.from_email, subject: 'Re: parent created after its reply', processed: null });
});
afterAll(async () => {
  pm?.close();
  await db?.end();
  await platform?.stop();
  await legacy?.drop();
});

const refCount = () => countRefs(db, pm);
const analyticsAgrees = () => historyAgrees(db, pm);

test('killed after a batch reached the tiers, resumed while the application writes: verify agrees, history counted once at its original times', async () => {
  await expect(runMigration(db, pm, { ...opts, catchUp: false, afterBatchWritten: (b) => { if (b === 2) throw new Error('killed'); } })).rejects.toThrow('killed');
  const cp = (await db.query('select rows_done from migrate_checkpoint')).rows[0];
  expect(Number(cp.rows_done)).toBe(40); // batch 2 wrote to the tiers, its checkpoint did not commit
  expect((await readState(db)).phase).toBe('migrating');

  // While the resumed run goes on, the application inserts a row behind the checkpoint and
  // changes an already migrated one (status and body): the catch-up must pick both up.
  const changed = (await db.query(`select e.id, e.tenant_id, m.storage_key from emails e join migrate_map m on m.kind = 'email' and m.legacy_id = e.id where e.direction = 'outbound' and e.status in ('sent', 'delivered') limit 1`)).rows[0];
  // A row of batch 2 (its body is in the content tier, its map row never committed) whose body
  // changes before the redo: the redo meets KEY_CONFLICT under its key and stores the new body
  // under its versioned key; the orphaned first body is deleted.
  let crashed: { id: string; tenant_id: string } | undefined;
  for (const row of (await db.query(`select id, tenant_id from emails e where not exists (select 1 from migrate_map m where m.kind = 'email' and m.legacy_id = e.id) order by created, id limit 40`)).rows) {
    if (await pm.content.getContent({ tenantId: row.tenant_id, storageKey: storageKeyOf(row) }).then(() => true, () => false)) { crashed = row; break; }
  }
  expect(crashed).toBeDefined();
  await db.query(`update emails set content_text = 'changed between the crash and the redo' where id = $1`, [crashed!.id]);
  let late = '';
  const lines: string[] = [];
  const r = await runMigration(db, pm, {
    ...opts,
    progress: (l) => lines.push(l),
    afterBatchWritten: async (b) => {
      if (b !== 1) return;
      late = await copy({ created: new Date(base.created.getTime() - 86_400_000), subject: 'inserted during the run' });
      await db.query(`update emails set status = 'opened', content_html = '<p>edited during the run</p>' where id = $1`, [changed.id]);
    },
  });
  expect(lines.at(-1)).toMatch(/rows\/s, ETA/);
  // The late row, the changed row and the reply that waited for its parent.
  expect(lines.some((l) => /^catch-up pass 1: 3 migrated, updated or rejected/.test(l))).toBe(true);
  expect(r.migrated).toBeGreaterThan(0);
  expect(Number((await db.query('select count(*) from migrate_rejects')).rows[0].count)).toBe(4);
  const rejects = readFileSync(rejectsFile, 'utf8').trim().split('\n').map((l) => JSON.parse(l));
  expect(rejects.map((x) => x.legacy_id).sort()).toEqual(Object.values(bad).sort());
  const reason = (id: string) => rejects.find((x) => x.legacy_id === id).reason;
  expect(reason(bad.long)).toMatch(/to_email longer than 254/);
  expect(reason(bad.type)).toMatch(/unknown message_type "newsletter"/);
  expect(reason(bad.parent)).toMatch(/missing parent/);
  expect(reason(bad.body)).toMatch(/body over the limit/);

  const total = Number((await db.query('select count(*) from emails')).rows[0].count);
  expect(await refCount()).toBe(total - 4); // batch 2 redone: no duplicate ref; the late row is there
  expect((await db.query(`select 1 from migrate_map where legacy_id = $1`, [late])).rowCount).toBe(1);
  const reply = (await db.query(`select new_id from migrate_map where legacy_id = $1`, [earlyReply])).rows[0].new_id;
  const parentRef = (await db.query(`select new_id from migrate_map where legacy_id = $1`, [laterParent])).rows[0].new_id;
  expect((await pm.metadata.getMessage({ tenantId: base.tenant_id as string, messageId: reply })).message!.parentMessageId).toBe(parentRef);
  // Every ref kept its email's id (ImportMessages `id`), the killed-and-redone batch's too.
  expect([reply, parentRef]).toEqual([earlyReply, laterParent]);
  expect(Number((await db.query(`select count(*) from migrate_map where kind = 'email' and new_id <> legacy_id`)).rows[0].count)).toBe(0);
  expect(Number((await db.query(`select count(*) from migrate_map where kind = 'email'`)).rows[0].count)).toBe(total - 4);
  // The changed body went under a new key; the old object is gone.
  const now = (await db.query(`select storage_key from migrate_map where legacy_id = $1`, [changed.id])).rows[0].storage_key;
  expect(now).toMatch(new RegExp(`^${storageKeyOf(changed)}/[0-9a-f]{16}$`));
  await expect(pm.content.getContent({ tenantId: changed.tenant_id, storageKey: changed.storage_key })).rejects.toMatchObject({ codeName: 'NOT_FOUND' });
  const redone = (await db.query(`select storage_key from migrate_map where legacy_id = $1`, [crashed!.id])).rows[0].storage_key;
  expect(redone).toMatch(new RegExp(`^${storageKeyOf(crashed!)}/[0-9a-f]{16}$`));
  expect((await pm.content.getContent({ tenantId: crashed!.tenant_id, storageKey: redone })).contentText).toBe('changed between the crash and the redo');
  await expect(pm.content.getContent({ tenantId: crashed!.tenant_id, storageKey: storageKeyOf(crashed!) })).rejects.toMatchObject({ codeName: 'NOT_FOUND' });
  const v = await verifyMigration(db, pm);
  expect(v.differences).toEqual([]);
  expect(v.ok).toBe(true);
  expect(v.checked).toBe(total - 4);
  await analyticsAgrees();
});

test('running again changes nothing, also when the checkpoint is reset and every row is redone; analytics still counts once', async () => {
  const before = await refCount();
  const again = await runMigration(db, pm, opts);
  expect(again).toMatchObject({ migrated: 0, rejected: 0, batches: 0 });
  await db.query('update migrate_checkpoint set last_created = null, last_id = null, rows_done = 0');
  // --throttle: at most 100 rows/s, so the 168 rows of the redo take at least ~1.7 s.
  const redo = await runMigration(db, pm, { ...opts, throttle: 100 });
  expect(redo).toMatchObject({ migrated: 0, rejected: 0 });
  expect(redo.seconds).toBeGreaterThanOrEqual(1.6);
  expect(redo.batches).toBeGreaterThan(3);
  expect(await refCount()).toBe(before);
  expect(readFileSync(rejectsFile, 'utf8').trim().split('\n')).toHaveLength(4); // not listed twice
  expect((await verifyMigration(db, pm)).differences).toEqual([]);
  await analyticsAgrees();
});

test('verify fails and names a row changed after the migration; archive refuses then; the catch-up brings it over', async () => {
  const id = (await db.query(`select legacy_id from migrate_map where kind = 'email' limit 1`)).rows[0].legacy_id;
  await db.query(`update emails set subject = 'changed after migration', content_html = '<p>new</p>' where id = $1`, [id]);
  const v = await verifyMigration(db, pm);
  expect(v.ok).toBe(false);
  expect(v.differences.join('\n')).toMatch(new RegExp(`${id}.*subject legacy "changed after migration"`));
  expect(v.differences.join('\n')).toMatch(new RegExp(`${id}.*content checksum`));

  const refused = await archive(db, pm);
  expect(refused.archived).toBe(false);
  expect((await db.query(`select to_regclass('public.emails') as t`)).rows[0].t).toBe('emails');
  expect((await readState(db)).phase).toBe('migrating');

  // A migrated row the application deletes: verify's counts differ until the catch-up records it.
  const gone = (await db.query(
    `select e.id, e.tenant_id, m.new_id from emails e join migrate_map m on m.kind = 'email' and m.legacy_id = e.id
      where e.id <> $1 and not exists (select 1 from emails c where c.parent_message_id = e.id) and not exists (select 1 from email_attachments a where a.email_id = e.id) limit 1`, [id])).rows[0];
  await db.query(`delete from emails where id = $1`, [gone.id]);
  expect((await verifyMigration(db, pm)).differences.join('\n')).toMatch(new RegExp(`tenant ${gone.tenant_id}: \\d+ legacy emails, \\d+ refs`));

  expect(await catchUp(db, pm, opts)).toMatchObject({ migrated: 1, rejected: 0, deleted: 1 });
  const after = await verifyMigration(db, pm);
  expect(after.differences).toEqual([]);
  expect(after.notes.join('\n')).toMatch(new RegExp(`tenant ${gone.tenant_id}: 1 legacy rows deleted after their migration, refs kept.*${gone.id} \\(ref ${gone.new_id}\\)`));
  // Its ref, body and history stay in the tiers; a second catch-up records nothing new.
  expect((await pm.metadata.getMessage({ tenantId: gone.tenant_id, messageId: gone.new_id })).message!.id).toBe(gone.new_id);
  expect(await catchUp(db, pm, opts)).toMatchObject({ migrated: 0, deleted: 0 });
});

test('switch, writes through the tiers, rollback: emails has them and verify agrees; then archive and restore', async () => {
  const sw = await switchOver(db, pm, opts);
  expect(sw.switched).toBe(true);
  expect((await readState(db)).phase).toBe('switched');

  // The application now writes through the tiers: a new message (body + ref) and a status change.
  const t = (await db.query(`select e.tenant_id, m.new_id as mailbox from emails e join migrate_map m on m.kind = 'mailbox' and m.legacy_id = e.email_account_id limit 1`)).rows[0];
  const key = `${t.tenant_id}/app/${randomUUID()}`;
  await pm.content.putContent({ tenantId: t.tenant_id, storageKey: key, contentText: 'written after the switch', contentHtml: '<p>after</p>', headers: { subject: 'After' } });
  const rec = await pm.metadata.recordMessage({
    tenantId: t.tenant_id,
    message: { emailAccountId: t.mailbox, direction: metadataV1.Direction.DIRECTION_OUTBOUND, fromEmail: 'sales@after.example', toEmail: 'lead@after.example', subject: 'After the switch', contentStorageKey: key, clientKey: `app-${randomUUID()}` },
  });
  const sent = (await db.query(`select m.new_id, e.id, e.tenant_id from emails e join migrate_map m on m.kind = 'email' and m.legacy_id = e.id where e.direction = 'outbound' and e.status = 'sent' limit 1`)).rows[0];
  await pm.metadata.updateMessageStatus({ tenantId: sent.tenant_id, messageId: sent.new_id, status: metadataV1.MessageStatus.MESSAGE_STATUS_DELIVERED });

  const rb = await rollback(db, pm);
  expect(rb).toEqual({ copied: 1, updated: 1 });
  expect((await readState(db))).toMatchObject({ phase: 'legacy', switched_at: null });
  const row = (await db.query(`select * from emails where id = $1`, [rec.message!.id])).rows[0];
  expect(row).toMatchObject({ subject: 'After the switch', content_text: 'written after the switch', content_html: '<p>after</p>', status: 'sent', tenant_id: t.tenant_id, headers: { subject: 'After' } });
  expect((await db.query(`select status from emails where id = $1`, [sent.id])).rows[0].status).toBe('delivered');
  expect((await verifyMigration(db, pm)).differences).toEqual([]);
  // A run after the rollback finds nothing to do (the copied rows are mapped).
  expect(await runMigration(db, pm, opts)).toMatchObject({ migrated: 0, rejected: 0 });

  // Switch again, archive (verify passes), restore.
  expect((await switchOver(db, pm, opts)).switched).toBe(true);
  const a = await archive(db, pm, new Date('2026-11-26T12:34:56Z'));
  expect(a).toMatchObject({ archived: true, as: '20261126_123456' });
  expect((await db.query(`select to_regclass('public.emails') as e, to_regclass('legacy_archive.emails_20261126_123456') as a, to_regclass('legacy_archive.email_attachments_20261126_123456') as b`)).rows[0])
    .toEqual({ e: null, a: 'legacy_archive.emails_20261126_123456', b: 'legacy_archive.email_attachments_20261126_123456' });
  await expect(rollback(db, pm)).rejects.toThrow(/restore/);
  expect(await restore(db)).toEqual({ restored: '20261126_123456' });
  expect((await readState(db)).phase).toBe('switched');
  expect((await verifyMigration(db, pm)).ok).toBe(true);
});
