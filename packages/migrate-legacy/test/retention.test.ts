// The migration refuses to start, writing nothing, when the legacy rows go back further than the
// analytics tier keeps raw events: there a batch sent again (a resume, a redo) would count its
// older events twice. The analytics tier alone (the refusal comes before any other call), with
// its default ANALYTICS_RAW_TTL_DAYS (400), through its built dist/main.js.
import { Client } from 'pg';
import { createPlatform, type PenguinMails } from '@penguinmails/sdk';
import { freshDatabase, startPlatform, type FreshDatabase, type Platform } from '@penguinmails/testkit';
import { generateLegacy, LEGACY_MIGRATIONS } from '../src/generate';
import { checkAnalyticsRetention, runMigration } from '../src/migrate';

let platform: Platform;
let pm: PenguinMails;
let legacy: FreshDatabase;
let db: Client;
const DAY = 86_400_000;

beforeAll(async () => {
  [platform, legacy] = await Promise.all([startPlatform({ services: ['analytics'] }), freshDatabase({ migrationsDir: LEGACY_MIGRATIONS, prefix: 'pm_legacy_retention' })]);
  pm = createPlatform({ addresses: platform.addresses }, { env: {} });
  db = new Client({ connectionString: legacy.url });
  await db.connect();
  await generateLegacy(db, { rows: 12, tenants: 1, attachmentShare: 0, seed: 5 });
  // The generated rows are of 2026; here every row is 10 days old, whatever the day the test runs.
  await db.query(`update emails set created = now() - interval '10 days', updated = now()`);
}, 90_000);
afterAll(async () => {
  pm?.close();
  await db?.end();
  await platform?.stop();
  await legacy?.drop();
});

const moveOldest = async (daysAgo: number) => {
  await db.query(`update emails set created = now() - make_interval(days => $1), updated = now() where id = (select id from emails order by created, id limit 1)`, [daysAgo]);
};

test('legacy rows older than the raw retention: refused with what to set, nothing written; younger ones, or --allow-recount, go on', async () => {
  expect((await pm.analytics.getFreshness({ tenantId: (await db.query('select id from tenants limit 1')).rows[0].id })).rawRetentionDays).toBe(400);
  await moveOldest(500);
  const err = await runMigration(db, pm, { batchSize: 5 }).then(
    () => undefined,
    (e: Error) => e,
  );
  expect(err?.message).toMatch(/^the legacy emails go back 50\d days \(to \d{4}-\d\d-\d\d\), and the analytics tier keeps raw events 400 days \(ANALYTICS_RAW_TTL_DAYS\).*Set ANALYTICS_RAW_TTL_DAYS=0 \(or above 53\d\).*--allow-recount.*Nothing was written$/);
  // nothing written: not even the tool's own control tables in the legacy database
  expect((await db.query(`select to_regclass('migrate_checkpoint') as t, to_regclass('migrate_map') as m`)).rows[0]).toEqual({ t: null, m: null });

  await expect(checkAnalyticsRetention(db, pm, { allowRecount: true })).resolves.toBeUndefined();
  // a day of margin: 399 days is refused too, 398 goes on
  await moveOldest(399);
  await expect(checkAnalyticsRetention(db, pm)).rejects.toThrow(/go back 399 days/);
  await moveOldest(398);
  await expect(checkAnalyticsRetention(db, pm)).resolves.toBeUndefined();
});
