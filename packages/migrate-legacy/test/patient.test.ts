// A tier killed while the migration writes to it: each write is repeated (patient(): backoff,
// a long deadline per attempt) until the service is back, and the run ends as an undisturbed
// one would. Its own platform: bench/'s generator gives the same ids for the same indexes
// whatever the seed, and a second legacy data set on one platform would meet the first's ids.
import { Client } from 'pg';
import { createPlatform, type PenguinMails } from '@penguinmails/sdk';
import { freshDatabase, startPlatform, type FreshDatabase, type Platform } from '@penguinmails/testkit';
import { generateLegacy, LEGACY_MIGRATIONS } from '../src/generate';
import { runMigration } from '../src/migrate';
import { verifyMigration } from '../src/verify';
import { countRefs, historyAgrees, FOR_HISTORY } from './history';

let platform: Platform;
let pm: PenguinMails;
let legacy: FreshDatabase;
let db2: Client;

beforeAll(async () => {
  [platform, legacy] = await Promise.all([startPlatform(FOR_HISTORY), freshDatabase({ migrationsDir: LEGACY_MIGRATIONS, prefix: 'pm_legacy_patient' })]);
  pm = createPlatform({ addresses: platform.addresses }, { env: {} });
  db2 = new Client({ connectionString: legacy.url });
  await db2.connect();
  await generateLegacy(db2, { rows: 120, tenants: 2, attachmentShare: 0.1, seed: 21 });
});
afterAll(async () => {
  pm?.close();
  await db2?.end();
  await platform?.stop();
  await legacy?.drop();
});

test('the content tier killed mid-run: the writes are repeated until it is back, the run finishes, verify agrees, history once', async () => {
  const retries: string[] = [];
  let back: Promise<void> | undefined;
  await runMigration(db2, pm, {
    batchSize: 20, inFlight: 2,
    progress: (line) => { if (line.includes('retrying')) retries.push(line); },
    afterBatchWritten: async (b) => {
      if (b !== 1 || back) return;
      // kill -9, and the service back on its port 1.5 s later (its start then takes a few more).
      await platform.kill('content');
      back = new Promise((res) => setTimeout(res, 1500)).then(() => platform.restart('content'));
    },
  });
  await back;
  expect(retries.some((l) => /^retrying content\.\w+ in [\d.]+ s \(attempt 2 of 8\): UNAVAILABLE/.test(l))).toBe(true);
  const total = Number((await db2.query('select count(*) from emails')).rows[0].count);
  const rejected = Number((await db2.query(`select count(*) from migrate_rejects where reason not like 'waiting%'`)).rows[0].count);
  expect(Number((await db2.query(`select count(*) from migrate_rejects where reason like 'waiting%'`)).rows[0].count)).toBe(0);
  expect(await countRefs(db2, pm)).toBe(total - rejected);
  const v = await verifyMigration(db2, pm);
  expect(v.differences).toEqual([]);
  expect(v.checked).toBe(total - rejected);
  await historyAgrees(db2, pm, { eachFact: false });
});
