// Issue 12's measures, printed, never asserted: rows/s of `migrate-legacy run` for N legacy
// emails with realistic bodies (bench/src/lib's generator: 5-50 KB HTML + text + 1-3 KB headers,
// ~5% with attachments), where its time goes (wall time per stage), and the p50/p99 of a
// concurrent OLTP workload on the legacy table (the old application's hot reads and writes at a
// fixed rate) without the migration, with it throttled (--throttle rows/s) and unthrottled, all
// in the same run. Run: `npm run bench -- --only legacy [--rows 20000] [--throttle 300]`
// (or `pnpm --filter @penguinmails/bench run bench:legacy -- ...`). Needs the built packages.
import { randomUUID } from 'node:crypto';
import os from 'node:os';
import path from 'node:path';
import { Client, Pool } from 'pg';
import { intArg, parseArgs, percentile, table, type Args } from './lib/report';

/* eslint-disable @typescript-eslint/no-require-imports, @typescript-eslint/no-explicit-any */
const root = path.resolve(__dirname, '..', '..');
const { createPlatform } = require(path.join(root, 'packages/sdk/dist')) as any;
const { startPlatform, freshDatabase } = require(path.join(root, 'packages/testkit/dist')) as any;
// The tool runs from its TypeScript sources (tsx), as its bin does.
const { runMigration, ensureControlTables } = require(path.join(root, 'packages/migrate-legacy/src/migrate.ts')) as any;
const { migrateReferences } = require(path.join(root, 'packages/migrate-legacy/src/refs.ts')) as any;
const { generateLegacy, LEGACY_MIGRATIONS } = require(path.join(root, 'packages/migrate-legacy/src/generate.ts')) as any;

export interface LegacyOptions { rows: number; seconds: number; throttle: number; oltpRate: number; concurrency: number; batch: number }

export function legacyOptions(args: Args): LegacyOptions {
  return {
    rows: intArg(args, 'rows', 10_000, 100, 10_000_000),
    seconds: intArg(args, 'seconds', 15, 3, 600),
    throttle: intArg(args, 'throttle', 0, 0, 1_000_000),
    oltpRate: intArg(args, 'oltp-rate', 40, 1, 100_000),
    concurrency: intArg(args, 'concurrency', 16, 1, 256),
    batch: intArg(args, 'batch', 500, 10, 1000),
  };
}

/**
 * The old application's load on `emails` at a fixed rate (open loop, so a slow answer does not
 * lower the offered load): a mailbox's latest 50 with bodies (its inbox list), one email by id,
 * a new email, a status update, in turn. Latency of every operation, ms.
 */
function oltp(pool: Pool, ids: string[], mailboxes: { tenant_id: string; email_account_id: string }[], rate: number) {
  const lat: number[] = [];
  let stop = false;
  let k = 0;
  const pick = <T>(xs: T[]) => xs[Math.floor(Math.random() * xs.length)];
  const op = async (i: number) => {
    const t = performance.now();
    const mb = pick(mailboxes);
    if (i % 4 === 0) await pool.query(`select * from emails where tenant_id = $1 and email_account_id = $2 order by created desc, id desc limit 51`, [mb.tenant_id, mb.email_account_id]);
    else if (i % 4 === 1) await pool.query(`select * from emails where id = $1`, [pick(ids)]);
    else if (i % 4 === 2) {
      await pool.query(
        `insert into emails (id, tenant_id, email_account_id, direction, from_email, to_email, subject, status, provider_message_id, content_text, content_html, headers, raw_size_bytes)
         values (gen_random_uuid(), $1, $2, 'outbound', 'app@legacy.bench', 'lead@legacy.bench', 'written by the app', 'sent', '<' || gen_random_uuid() || '@app.bench>', $3, $4, '{"x-app":"bench"}', 9000)`,
        [mb.tenant_id, mb.email_account_id, 'Hello from the app. '.repeat(100), `<p>${'Hello from the app. '.repeat(300)}</p>`]);
    } else await pool.query(`update emails set status = 'opened' where id = $1 and status in ('sent', 'delivered')`, [pick(ids)]);
    lat.push(performance.now() - t);
  };
  const done = (async () => {
    const t0 = performance.now();
    const inflight = new Set<Promise<void>>();
    while (!stop) {
      const due = t0 + (k * 1000) / rate;
      const wait = due - performance.now();
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
      const p: Promise<void> = op(k++).catch(() => undefined).then(() => { inflight.delete(p); });
      inflight.add(p);
    }
    await Promise.all(inflight);
  })();
  return { lat, async end() { stop = true; await done; return lat; } };
}

export async function runLegacy(o: LegacyOptions): Promise<string> {
  const out: string[] = [];
  const say = (l: string) => { console.log(l); out.push(l); };
  const platform = await startPlatform();
  const legacy = await freshDatabase({ migrationsDir: LEGACY_MIGRATIONS, prefix: 'pm_legacy_bench' });
  const pm = createPlatform({ addresses: platform.addresses }, { env: {} });
  const db = new Client({ connectionString: legacy.url });
  await db.connect();
  const app = new Pool({ connectionString: legacy.url, max: 4 });
  try {
    say(`bench legacy: ${new Date().toISOString()}, ${os.cpus().length} cores, load average ${os.loadavg().map((x) => x.toFixed(2)).join(' ')}`);
    let t = performance.now();
    const g = await generateLegacy(db, { rows: o.rows, tenants: 8 });
    const size = (await db.query(`select pg_size_pretty(pg_total_relation_size('emails')) as s, avg(octet_length(content_html) + coalesce(octet_length(content_text), 0) + octet_length(headers::text))::int as b from emails`)).rows[0];
    say(`generated ${g.emails} emails (${g.attachments} attachments), emails table ${size.s}, body avg ${size.b} bytes, in ${((performance.now() - t) / 1000).toFixed(0)} s`);
    const ids = (await db.query(`select id from emails order by random() limit 5000`)).rows.map((r) => r.id);
    const mailboxes = (await db.query(`select distinct tenant_id, email_account_id from emails`)).rows;

    // Upper bound of the read side: the keyset scan alone, no writes.
    t = performance.now();
    let after: [Date, string] | null = null;
    for (;;) {
      const q: string = after ? `select * from emails where (created, id) > ($1, $2) order by created, id limit ${o.batch}` : `select * from emails order by created, id limit ${o.batch}`;
      const r: { created: Date; id: string }[] = (await db.query<{ created: Date; id: string }>(q, after ? [after[0], after[1]] : [])).rows;
      if (!r.length) break;
      after = [r[r.length - 1].created, r[r.length - 1].id];
    }
    const readRate = o.rows / ((performance.now() - t) / 1000);

    // The other baseline: PutContent alone, the same bodies at the same concurrency (a tenant id
    // of its own), so the migration's rate can be read against what the content tier takes.
    const sample = (await db.query(`select content_text, content_html, headers, raw_size_bytes from emails order by random() limit 500`)).rows;
    const probeTenant = randomUUID();
    t = performance.now();
    let k = 0;
    await Promise.all(Array.from({ length: o.concurrency }, async () => {
      while (k < sample.length) {
        const e = sample[k++];
        await pm.content.putContent({ tenantId: probeTenant, storageKey: `${probeTenant}/probe/${randomUUID()}`, contentText: e.content_text ?? undefined, contentHtml: e.content_html ?? undefined, headers: e.headers, rawSizeBytes: e.raw_size_bytes });
      }
    }));
    const putRate = sample.length / ((performance.now() - t) / 1000);
    // And BatchPutContent: the same bodies, 3 rounds of one call of all 500 (new keys each), one after another.
    t = performance.now();
    const rounds = 3;
    for (let round = 0; round < rounds; round++) {
      await pm.content.batchPutContent({ tenantId: probeTenant, items: sample.map((e) => ({ storageKey: `${probeTenant}/probe-batch/${randomUUID()}`, contentText: e.content_text ?? undefined, contentHtml: e.content_html ?? undefined, headers: e.headers, rawSizeBytes: e.raw_size_bytes })) });
    }
    const batchRate = (rounds * sample.length) / ((performance.now() - t) / 1000);

    const phases: (string | number)[][] = [];
    let baseP50 = NaN;
    const row = (name: string, lat: number[], base?: number) => {
      const p50 = percentile(lat, 50), p99 = percentile(lat, 99);
      const vs = (x: number, b: number) => `${x >= b ? '+' : ''}${((x / b - 1) * 100).toFixed(0)}%`;
      phases.push([name, lat.length, p50.toFixed(2), p99.toFixed(2), base ? vs(p50, baseP50) : '-', base ? vs(p99, base) : '-']);
      return p99;
    };
    // A: the application alone.
    let w = oltp(app, ids, mailboxes, o.oltpRate);
    await new Promise((r) => setTimeout(r, o.seconds * 1000));
    const alone = await w.end();
    baseP50 = percentile(alone, 50);
    const baseP99 = row('OLTP alone', alone);

    // Mailboxes, campaigns, steps and leads first (run does this too; not part of the rows/s).
    await ensureControlTables(db);
    await migrateReferences(db, pm);
    // B: migration throttled for `seconds` (then stopped between batches; C resumes it).
    const timings: Record<string, number> = {};
    const common = { batchSize: o.batch, concurrency: o.concurrency, rejectsFile: path.join(os.tmpdir(), `legacy-bench-${process.pid}.jsonl`), timings };
    if (o.throttle > 0) {
      w = oltp(app, ids, mailboxes, o.oltpRate);
      const ac = new AbortController();
      setTimeout(() => ac.abort(), o.seconds * 1000);
      t = performance.now();
      const before = Number((await db.query(`select coalesce((select rows_done from migrate_checkpoint), 0) as n`).catch(() => ({ rows: [{ n: 0 }] }))).rows[0].n);
      await runMigration(db, pm, { ...common, throttle: o.throttle, signal: ac.signal, catchUp: false }).catch((e: Error) => { if (e.message !== 'aborted') throw e; });
      const doneB = Number((await db.query(`select rows_done from migrate_checkpoint`)).rows[0].rows_done) - before;
      row(`OLTP + migration at --throttle ${o.throttle} (${(doneB / ((performance.now() - t) / 1000)).toFixed(0)} rows/s)`, await w.end(), baseP99);
      for (const k of Object.keys(timings)) delete timings[k];
    }
    // C: the rest unthrottled, the application writing meanwhile (its rows go through the catch-up).
    const start = Number((await db.query(`select coalesce((select rows_done from migrate_checkpoint), 0) as n`).catch(() => ({ rows: [{ n: 0 }] }))).rows[0].n);
    w = oltp(app, ids, mailboxes, o.oltpRate);
    t = performance.now();
    const r = await runMigration(db, pm, common);
    const secs = (performance.now() - t) / 1000;
    const doneC = Number((await db.query(`select rows_done from migrate_checkpoint`)).rows[0].rows_done) - start;
    // Rows moved: the keyset pass's and the catch-up's (the application's writes meanwhile).
    const rate = (r.migrated + r.rejected) / secs;
    row(`OLTP + migration unthrottled (${rate.toFixed(0)} rows/s)`, await w.end(), baseP99);

    say(`migration: ${r.migrated + r.rejected} rows (keyset pass ${doneC}, the rest the catch-up's) in ${secs.toFixed(1)} s = ${rate.toFixed(0)} rows/s unthrottled (${r.rejected} rejected), concurrency ${o.concurrency}, batch ${o.batch}`);
    say(`baselines in the same run: keyset read of emails alone ${readRate.toFixed(0)} rows/s (migration/read ${(rate / readRate).toFixed(2)}); PutContent alone, ${sample.length} of these bodies at concurrency ${o.concurrency}: ${putRate.toFixed(0)} puts/s (migration/put ${(rate / putRate).toFixed(2)})`);
    say(`content tier in the same run: PutContent ${putRate.toFixed(0)} objects/s (${sample.length} calls, concurrency ${o.concurrency}) vs BatchPutContent ${batchRate.toFixed(0)} objects/s (${rounds} calls of ${sample.length}, one at a time): batch/put ${(batchRate / putRate).toFixed(2)}x; migration/batch-put ${(rate / batchRate).toFixed(2)}`);
    const total = Object.values(timings).reduce((a, b) => a + b, 0);
    say('where the migration waited (wall ms per stage; a batch\'s analytics + commit overlap the next batch, "previous tail" is the wait for them):');
    say(table(['stage', 'ms', 'share'], Object.entries(timings).sort((a, b) => b[1] - a[1]).map(([k, v]) => [k, v.toFixed(0), `${((100 * v) / total).toFixed(0)}%`])));
    say(`OLTP on emails at ${o.oltpRate} ops/s (inbox list, get by id, insert, status update), ms:`);
    say(table(['phase', 'ops', 'p50', 'p99', 'p50 vs alone', 'p99 vs alone'], phases));
    return out.join('\n');
  } finally {
    pm.close();
    await app.end();
    await db.end();
    await platform.stop();
    await legacy.drop();
  }
}

if (require.main === module) {
  runLegacy(legacyOptions(parseArgs(process.argv.slice(2)))).then(() => process.exit(0), (err) => { console.error(err); process.exit(1); });
}
