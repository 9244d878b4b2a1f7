// A kill while several batches are in flight: batches behind the checkpoint already wrote their
// bodies, refs and events; the resumed run ends with one ref per email, verify agrees (every
// body under its key, checksums equal) and analytics counts the history once.
import { Client } from 'pg';
import { createPlatform, type PenguinMails } from '@penguinmails/sdk';
import { freshDatabase, startPlatform, type FreshDatabase, type Platform } from '@penguinmails/testkit';
import { generateLegacy, LEGACY_MIGRATIONS } from '../src/generate';
import { runMigration, Throttle } from '../src/migrate';
import { verifyMigration } from '../src/verify';
import { countRefs, historyAgrees, FOR_HISTORY } from './history';

let platform: Platform;
let pm: PenguinMails;
let legacy: FreshDatabase;
let db: Client;

beforeAll(async () => {
  [platform, legacy] = await Promise.all([startPlatform(FOR_HISTORY), freshDatabase({ migrationsDir: LEGACY_MIGRATIONS, prefix: 'pm_legacy_inflight' })]);
  pm = createPlatform({ addresses: platform.addresses }, { env: {} });
  db = new Client({ connectionString: legacy.url });
  await db.connect();
  await generateLegacy(db, { rows: 200, tenants: 3, attachmentShare: 0.1, seed: 12 });
});
afterAll(async () => {
  pm?.close();
  await db?.end();
  await platform?.stop();
  await legacy?.drop();
});

test('killed while batches 2-4 are in flight (3 and 4 written to the tiers): resume leaves one ref per email, verify agrees, history counted once', async () => {
  const written = new Set<number>();
  let later!: () => void;
  const laterWritten = new Promise<void>((r) => { later = r; });
  const opts = { batchSize: 20, inFlight: 4, catchUp: false };
  await expect(runMigration(db, pm, {
    ...opts,
    afterBatchWritten: async (b) => {
      written.add(b);
      if (written.has(3) && written.has(4)) later();
      // Batch 2 dies only once the two batches behind it have reached the tiers.
      if (b === 2) {
        // The fallback timer is unref'd: once batches 3 and 4 win the race it must not keep the
        // jest worker alive (it did: "A worker process has failed to exit gracefully").
        await Promise.race([laterWritten, new Promise((r) => setTimeout(r, 30_000).unref())]);
        throw new Error('killed');
      }
    },
  })).rejects.toThrow('killed');
  expect([...written].sort()).toEqual(expect.arrayContaining([1, 2, 3, 4]));
  // The checkpoint covers batch 1 only; batches 3 and 4 committed nothing (they follow batch 2).
  expect(Number((await db.query('select rows_done from migrate_checkpoint')).rows[0].rows_done)).toBe(20);
  expect(Number((await db.query(`select count(*) from migrate_map where kind = 'email'`)).rows[0].count)).toBe(20);
  const total = Number((await db.query('select count(*) from emails')).rows[0].count);
  const rejected = () => db.query(`select count(*) from migrate_rejects`).then((r) => Number(r.rows[0].count));
  expect(await countRefs(db, pm)).toBeGreaterThanOrEqual(80 - (await rejected())); // batches 1-4 are in metadata

  const r = await runMigration(db, pm, { batchSize: 20, inFlight: 4 });
  expect(r.batches).toBe(Math.ceil((total - 20) / 20));
  expect(Number((await db.query('select rows_done from migrate_checkpoint')).rows[0].rows_done)).toBe(total);
  // The generator's rows are all valid: a reply whose parent was in another batch in flight is not rejected.
  expect(await rejected()).toBe(0);
  expect(await countRefs(db, pm)).toBe(total);
  const v = await verifyMigration(db, pm);
  expect(v.differences).toEqual([]);
  expect(v.checked).toBe(total - (await rejected()));
  await historyAgrees(db, pm);
});

test('adaptive throttle: a baseline before the run; the cap rises while the probe stays near it and halves while the probe waits', async () => {
  const id = (await db.query('select id from emails limit 1')).rows[0].id;
  expect(new Throttle(0, 0.2).rate).toBe(50);
  expect(new Throttle(0, 0.2).batchRows(500)).toBe(25); // half a second of the cap
  // A wide allowance (the probe may get 10x slower before the cap halves), so that the other
  // suites CI runs beside this one cannot make "near the baseline" false; the slow phase below
  // makes each probe wait ~250 ms on a lock, hundreds of times any baseline. (It used CPU-bound
  // queries before: that was a race against whatever else the machine ran.)
  const t = new Throttle(0, 9);
  await t.start(() => new Client({ connectionString: legacy.url }), id);
  try {
    expect(t.baseline).toBeGreaterThan(0);
    const until = async (ok: () => boolean, ms: number) => { for (const end = Date.now() + ms; !ok() && Date.now() < end; ) await new Promise((r) => setTimeout(r, 100)); };
    await until(() => t.rate > 50, 15_000);
    expect(t.rate).toBeGreaterThan(50);
    // The application's table held by another session, again and again: the probe (a primary-key
    // read of emails) waits behind each hold.
    const high = t.rate;
    const locker = new Client({ connectionString: legacy.url });
    await locker.connect();
    let holding = true;
    const holds = (async () => {
      while (holding) {
        await locker.query('begin');
        await locker.query('lock table emails in access exclusive mode');
        await new Promise((r) => setTimeout(r, 250));
        await locker.query('commit');
        await new Promise((r) => setTimeout(r, 20));
      }
    })();
    try {
      await until(() => t.rate < high, 30_000);
      expect(t.rate).toBeLessThan(high);
      expect(t.history.some(([, r], i) => i > 0 && r < t.history[i - 1][1])).toBe(true);
    } finally {
      holding = false;
      await holds;
      await locker.end();
    }
  } finally {
    await t.stop();
  }
});
