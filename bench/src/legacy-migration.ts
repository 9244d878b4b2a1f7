// Issue 12's measures, printed, never asserted: rows/s of `migrate-legacy run` for N legacy
// emails with realistic bodies (bench/src/lib's generator: 5-50 KB HTML + text + 1-3 KB headers,
// ~5% with attachments), where its time goes (wall time per stage, CPU seconds per process and
// per PostgreSQL database), and the p50/p99 of a concurrent OLTP workload on the legacy table
// (the old application's hot reads and writes at a fixed rate) without the migration, with it
// throttled (--throttle rows/s), adaptive (--adaptive F), unthrottled with fewer batches in flight
// (--compare-in-flight B) and unthrottled (--in-flight B), all in the same run. Run:
// `npm run bench -- --only legacy [--rows 20000] [--seconds 30] [--throttle 10] [--adaptive 0.2]
// [--compare-in-flight 1] [--compare-batch 1000] [--in-flight 3] [--batch 500] [--cpu-prof DIR] [--verify]`. Needs the built packages.
import { randomUUID } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Client, Pool } from 'pg';
import { procStat } from './lib/cpu-split';
import { intArg, parseArgs, percentile, table, type Args } from './lib/report';

/* eslint-disable @typescript-eslint/no-require-imports, @typescript-eslint/no-explicit-any */
const root = path.resolve(__dirname, '..', '..');
const { createPlatform } = require(path.join(root, 'packages/sdk/dist')) as any;
const { startPlatform, freshDatabase } = require(path.join(root, 'packages/testkit/dist')) as any;
// The tool runs from its TypeScript sources (tsx), as its bin does.
const { runMigration, ensureControlTables } = require(path.join(root, 'packages/migrate-legacy/src/migrate.ts')) as any;
const { migrateReferences, pages } = require(path.join(root, 'packages/migrate-legacy/src/refs.ts')) as any;
const { verifyMigration } = require(path.join(root, 'packages/migrate-legacy/src/verify.ts')) as any;
const { generateLegacy, LEGACY_MIGRATIONS } = require(path.join(root, 'packages/migrate-legacy/src/generate.ts')) as any;

export interface LegacyOptions {
  rows: number; seconds: number; throttle: number; oltpRate: number; concurrency: number; batch: number;
  /** Batches in flight of the unthrottled run; and of a first unthrottled phase for comparison (0 = none). */
  inFlight: number; compareInFlight: number; compareBatch: number;
  /** The adaptive phase's allowed extra probe latency (0 = no such phase). */
  adaptive: number;
  /** --cpu-prof DIR: the services run with `node --cpu-prof` and write their profiles there at exit. */
  cpuProf?: string;
  /** --verify: afterwards, time `verify` (bodies batched, then one GetContent per row) and `rollback`'s read (refs changed since the switch) against listing every ref. */
  verify: boolean;
}

export function legacyOptions(args: Args): LegacyOptions {
  return {
    rows: intArg(args, 'rows', 10_000, 100, 10_000_000),
    seconds: intArg(args, 'seconds', 15, 3, 600),
    throttle: intArg(args, 'throttle', 0, 0, 1_000_000),
    oltpRate: intArg(args, 'oltp-rate', 40, 1, 100_000),
    concurrency: intArg(args, 'concurrency', 16, 1, 256),
    batch: intArg(args, 'batch', 500, 10, 5000),
    inFlight: intArg(args, 'in-flight', 3, 1, 32),
    compareInFlight: intArg(args, 'compare-in-flight', 0, 0, 32),
    compareBatch: intArg(args, 'compare-batch', 0, 0, 5000),
    adaptive: Number(args.values.get('adaptive') ?? 0),
    cpuProf: args.values.get('cpu-prof'),
    verify: args.flags.has('verify'),
  };
}

/** CPU seconds so far (user + system) of a process, from /proc (children that exited included). */
function procCpu(pid: number, withChildren = false): number {
  const p = procStat(pid);
  return p ? (p.ownMs + (withChildren ? p.reapedMs : 0)) / 1000 : 0;
}
/**
 * CPU seconds so far of this process (the migration tool runs in it, with the OLTP load's
 * client), of each service, and of PostgreSQL (every postgres process, the postmaster's exited
 * children included: also what other users of the server spend, so read it on a quiet machine).
 */
function cpuNow(platform: any, legacyDb: string): Record<string, number> {
  const out: Record<string, number> = { 'bench process (tool + OLTP client)': process.cpuUsage().user / 1e6 + process.cpuUsage().system / 1e6 };
  for (const name of ['content', 'metadata', 'analytics', 'queue']) out[name] = platform.services[name]?.process ? procCpu(platform.services[name].process.pid) : 0;
  // Backends by database (their title: "postgres: user database host state").
  const dbOf: Record<string, string> = { [legacyDb]: 'pg legacy db' };
  for (const name of ['content', 'metadata', 'queue']) {
    const url = platform.env[name]?.DATABASE_URL;
    if (url) dbOf[new URL(url).pathname.slice(1)] = `pg ${name} db`;
  }
  for (const k of ['pg legacy db', 'pg content db', 'pg metadata db', 'pg queue db', 'pg other (wal, checkpoints, exited, others)']) out[k] = 0;
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    let comm = '', title = '', ppid = 0;
    try {
      comm = readFileSync(`/proc/${d}/comm`, 'utf8').trim();
      if (comm !== 'postgres') continue;
      title = readFileSync(`/proc/${d}/cmdline`, 'utf8').replace(/\0/g, ' ');
      ppid = procStat(d)?.ppid ?? 0;
    } catch { continue; }
    const m = /^postgres: (?:[^ ]+: )?\S+ (\S+) /.exec(title);
    const key = (m && dbOf[m[1]]) ?? 'pg other (wal, checkpoints, exited, others)';
    out[key] = (out[key] ?? 0) + procCpu(Number(d), ppid === 1); // the postmaster: its exited children too
  }
  return out;
}
const cpuDelta = (a: Record<string, number>, b: Record<string, number>) => Object.fromEntries(Object.keys(b).map((k) => [k, b[k] - (a[k] ?? 0)]));

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
  // --cpu-prof DIR: each service writes a V8 CPU profile there at its exit (platform.stop());
  // NODE_OPTIONS takes no --cpu-prof, so a preload does it through the inspector.
  if (o.cpuProf) mkdirSync(o.cpuProf, { recursive: true });
  // Analytics keeps raw events for ever during the migration, as the tool asks of an operator
  // (migrate-legacy README, "History older than analytics keeps raw events").
  const serviceEnv = { analytics: { ANALYTICS_RAW_TTL_DAYS: '0' } };
  const platform = await startPlatform(o.cpuProf ? { serviceEnv, env: { NODE_OPTIONS: `--require ${path.join(__dirname, 'lib', 'cpu-prof-preload.cjs')}`, CPU_PROF_DIR: path.resolve(o.cpuProf) } } : { serviceEnv });
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
    const cpuRows: (string | number)[][] = [];
    const cpuPhase = (name: string, a: Record<string, number>, secs: number) => {
      const d = cpuDelta(a, cpuNow(platform, legacy.name));
      const total = Object.values(d).reduce((x, y) => x + y, 0);
      cpuRows.push([name, secs.toFixed(1), ...Object.values(d).map((v) => v.toFixed(1)), total.toFixed(1), `${((100 * total) / (secs * os.cpus().length)).toFixed(0)}%`]);
    };
    let cpu0 = cpuNow(platform, legacy.name);
    t = performance.now();
    let w = oltp(app, ids, mailboxes, o.oltpRate);
    await new Promise((r) => setTimeout(r, o.seconds * 1000));
    const alone = await w.end();
    cpuPhase('OLTP alone', cpu0, (performance.now() - t) / 1000);
    baseP50 = percentile(alone, 50);
    const baseP99 = row('OLTP alone', alone);

    // Mailboxes, campaigns, steps and leads first (run does this too; not part of the rows/s).
    await ensureControlTables(db);
    await migrateReferences(db, pm);
    const timings: Record<string, number> = {};
    const common = { batchSize: o.batch, concurrency: o.concurrency, inFlight: o.inFlight, rejectsFile: path.join(os.tmpdir(), `legacy-bench-${process.pid}.jsonl`), timings };
    const checkpoint = async () => Number((await db.query(`select coalesce((select rows_done from migrate_checkpoint), 0) as n`).catch(() => ({ rows: [{ n: 0 }] }))).rows[0].n);
    const rates: string[] = [];
    /** A phase of `seconds`: the migration with `extra` options beside the OLTP load, stopped between batches. */
    const timed = async (name: string, extra: Record<string, unknown>) => {
      w = oltp(app, ids, mailboxes, o.oltpRate);
      const ac = new AbortController();
      const timer = setTimeout(() => ac.abort(), o.seconds * 1000);
      cpu0 = cpuNow(platform, legacy.name);
      t = performance.now();
      const before = await checkpoint();
      const r = await runMigration(db, pm, { ...common, ...extra, signal: ac.signal, catchUp: false }).catch((e: Error) => { if (e.message !== 'aborted') throw e; return undefined; });
      clearTimeout(timer);
      const secs = (performance.now() - t) / 1000;
      const rate = ((await checkpoint()) - before) / secs;
      const lat = await w.end();
      cpuPhase(`${name} (${rate.toFixed(0)} rows/s)`, cpu0, secs);
      row(`OLTP + ${name} (${rate.toFixed(0)} rows/s)`, lat, baseP99);
      rates.push(`${name}: ${rate.toFixed(0)} rows/s over ${secs.toFixed(1)} s${r ? ' (finished)' : ''}`);
      for (const k of Object.keys(timings)) delete timings[k];
      return rate;
    };
    // B: a fixed throttle; C: the adaptive one; D: unthrottled with fewer batches in flight.
    if (o.throttle > 0) await timed(`migration at --throttle ${o.throttle}`, { throttle: o.throttle });
    if (o.adaptive > 0) await timed(`migration --adaptive ${o.adaptive}`, { adaptive: o.adaptive });
    // D: unthrottled with other settings (--compare-in-flight / --compare-batch), for a same-run ratio.
    const cmp = { inFlight: o.compareInFlight || o.inFlight, batchSize: o.compareBatch || o.batch };
    const comparing = o.compareInFlight > 0 || o.compareBatch > 0;
    const compare = comparing ? await timed(`migration unthrottled, --in-flight ${cmp.inFlight} --batch ${cmp.batchSize}`, cmp) : NaN;
    // E: the rest unthrottled, the application writing meanwhile (its rows go through the catch-up).
    const start = await checkpoint();
    w = oltp(app, ids, mailboxes, o.oltpRate);
    cpu0 = cpuNow(platform, legacy.name);
    t = performance.now();
    const r = await runMigration(db, pm, common);
    const secs = (performance.now() - t) / 1000;
    const doneC = (await checkpoint()) - start;
    // Rows moved: the keyset pass's and the catch-up's (the application's writes meanwhile).
    const rate = (r.migrated + r.rejected) / secs;
    cpuPhase(`migration unthrottled, --in-flight ${o.inFlight} --batch ${o.batch} (${rate.toFixed(0)} rows/s)`, cpu0, secs);
    row(`OLTP + migration unthrottled, --in-flight ${o.inFlight} --batch ${o.batch} (${rate.toFixed(0)} rows/s)`, await w.end(), baseP99);

    say(`migration: ${r.migrated + r.rejected} rows (keyset pass ${doneC}, the rest the catch-up's) in ${secs.toFixed(1)} s = ${rate.toFixed(0)} rows/s unthrottled (${r.rejected} rejected), concurrency ${o.concurrency}, batch ${o.batch}, in flight ${o.inFlight}`);
    for (const l of rates) say(`  phase ${l}`);
    if (comparing) say(`  same run: (--in-flight ${o.inFlight} --batch ${o.batch}) / (--in-flight ${cmp.inFlight} --batch ${cmp.batchSize}) = ${(rate / compare).toFixed(2)}x rows/s`);
    say(`baselines in the same run: keyset read of emails alone ${readRate.toFixed(0)} rows/s (migration/read ${(rate / readRate).toFixed(2)}); PutContent alone, ${sample.length} of these bodies at concurrency ${o.concurrency}: ${putRate.toFixed(0)} puts/s (migration/put ${(rate / putRate).toFixed(2)})`);
    say(`content tier in the same run: PutContent ${putRate.toFixed(0)} objects/s (${sample.length} calls, concurrency ${o.concurrency}) vs BatchPutContent ${batchRate.toFixed(0)} objects/s (${rounds} calls of ${sample.length}, one at a time): batch/put ${(batchRate / putRate).toFixed(2)}x; migration/batch-put ${(rate / batchRate).toFixed(2)}`);
    const total = Object.values(timings).reduce((a, b) => a + b, 0);
    say(`where the unthrottled run's time went (wall ms per stage, summed over the ${o.inFlight} batches in flight, so shares overlap; "wait: ..." is a batch waiting for another):`);
    say(table(['stage', 'ms', 'share'], Object.entries(timings).sort((a, b) => b[1] - a[1]).map(([k, v]) => [k, v.toFixed(0), `${((100 * v) / total).toFixed(0)}%`])));
    say(`CPU seconds per process in each phase (/proc; pg = PostgreSQL backends by database; "pg other" also holds other users' backends and exited ones; busy 100% = all ${os.cpus().length} cores):`);
    say(table(['phase', 'wall s', 'bench (tool + OLTP client)', 'content', 'metadata', 'analytics', 'queue', 'pg legacy', 'pg content', 'pg metadata', 'pg queue', 'pg other', 'total', 'busy'], cpuRows));
    say(`OLTP on emails at ${o.oltpRate} ops/s (inbox list, get by id, insert, status update), ms:`);
    say(table(['phase', 'ops', 'p50', 'p99', 'p50 vs alone', 'p99 vs alone'], phases));
    if (o.verify) {
      // What verify and rollback cost at this size (no OLTP load meanwhile).
      const vt = async (perRowContent: boolean) => {
        const t1 = performance.now();
        const v = await verifyMigration(db, pm, { perRowContent });
        const s1 = (performance.now() - t1) / 1000;
        return { v, s1, rate: v.checked / s1 };
      };
      const batched = await vt(false);
      const perRow = await vt(true);
      say(`verify (${batched.v.checked} rows, ${batched.v.differences.length} differences): bodies through BatchGetContent ${batched.s1.toFixed(1)} s = ${batched.rate.toFixed(0)} rows/s; one GetContent per row ${perRow.s1.toFixed(1)} s = ${perRow.rate.toFixed(0)} rows/s (same run: ${(batched.rate / perRow.rate).toFixed(2)}x)`);
      // rollback's read: the refs changed since the switch (ListMessages `updated`, filtered in the
      // tier), against listing every ref (what it did before that filter), same run.
      const listAll = async (since?: Date) => {
        const t2 = performance.now();
        let refs = 0;
        for (const tn of (await db.query('select id from tenants')).rows) {
          for await (const m of pages((token: string) => pm.metadata.listMessages({ tenantId: tn.id, ...(since ? { updated: { start: since } } : {}), page: { pageSize: 500, pageToken: token } }), (r: any) => r.messages)) { void m; refs++; }
        }
        return { refs, s: (performance.now() - t2) / 1000 };
      };
      const switchedAt = new Date();
      const changedRefs = await listAll(switchedAt);
      const everyRef = await listAll();
      say(`rollback's read: the refs changed since a switch just now (ListMessages updated >= switch, pages of 500): ${changedRefs.refs} refs in ${changedRefs.s.toFixed(2)} s; every ref of every tenant (before the filter): ${everyRef.refs} refs in ${everyRef.s.toFixed(1)} s = ${(everyRef.refs / everyRef.s).toFixed(0)} refs/s (same run: ${(everyRef.s / changedRefs.s).toFixed(1)}x the time)`);
    }
    say(`load average at the end: ${os.loadavg().map((x) => x.toFixed(2)).join(' ')}`);
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
