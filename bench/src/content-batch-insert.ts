// How BatchPutContent writes N bodies in one statement: the SQL strategies side by side, printed,
// never asserted. On a fresh content database (the service's migrations: lz4 columns, the usage
// triggers), each round inserts `--batch` realistic bodies (lib/content-bodies.ts: 5-50 KB HTML,
// text, 1-3 KB headers) in one transaction with each strategy, strategies interleaved per round,
// new keys every time:
//   - per-row:      one `insert … on conflict do nothing` per object (PutContent's statement), one transaction
//   - unnest:       one insert … select from unnest(one array per column)   ← what the service uses
//   - multi-values: one insert … values ($1..$7), ($8..$14), …
//   - copy:         COPY (pg-copy-streams) into a temp table, then insert … select … on conflict do nothing
// Run: `pnpm --filter @penguinmails/bench exec tsx src/content-batch-insert.ts [--batch 500] [--rounds 6]`.
import { randomUUID } from 'node:crypto';
import os from 'node:os';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { Readable } from 'node:stream';
import { Pool, type PoolClient } from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import { contentBodies } from './lib/content-bodies';
import { intArg, parseArgs, table } from './lib/report';

/* eslint-disable @typescript-eslint/no-require-imports, @typescript-eslint/no-explicit-any */
const root = path.resolve(__dirname, '..', '..');
const { freshDatabase } = require(path.join(root, 'packages/testkit/dist')) as any;
const MIGRATIONS = path.join(root, 'services/content/prisma/migrations');

interface Row { key: string; tenant: string; text: string; html: string; headers: string; raw: number }
const COLS = 'storage_key, tenant_id, content_text, content_html, headers, raw_size_bytes, expires';

const strategies: Record<string, (c: PoolClient, rows: Row[]) => Promise<number>> = {
  'per-row': async (c, rows) => {
    let n = 0;
    for (const r of rows)
      n += (await c.query(`insert into content_objects (${COLS}) values ($1, $2, $3, $4, $5::jsonb, $6, null) on conflict (storage_key) do nothing`,
        [r.key, r.tenant, r.text, r.html, r.headers, r.raw])).rowCount ?? 0;
    return n;
  },
  unnest: async (c, rows) =>
    (await c.query(
      `insert into content_objects (${COLS})
       select k, t, tx, h, hd::jsonb, r, null from unnest($1::varchar[], $2::uuid[], $3::text[], $4::text[], $5::text[], $6::int[]) as u(k, t, tx, h, hd, r)
       on conflict (storage_key) do nothing`,
      [rows.map((r) => r.key), rows.map((r) => r.tenant), rows.map((r) => r.text), rows.map((r) => r.html), rows.map((r) => r.headers), rows.map((r) => r.raw)],
    )).rowCount ?? 0,
  'multi-values': async (c, rows) => {
    const values: unknown[] = [];
    const tuples = rows.map((r, i) => {
      values.push(r.key, r.tenant, r.text, r.html, r.headers, r.raw);
      const b = i * 6;
      return `($${b + 1}, $${b + 2}::uuid, $${b + 3}, $${b + 4}, $${b + 5}::jsonb, $${b + 6}::int, null::timestamptz)`;
    });
    return (await c.query(`insert into content_objects (${COLS}) values ${tuples.join(', ')} on conflict (storage_key) do nothing`, values)).rowCount ?? 0;
  },
  copy: async (c, rows) => {
    await c.query(`create temp table if not exists batch_in (k varchar(500), t uuid, tx text, h text, hd text, r int) on commit delete rows`);
    // COPY text format: backslash, tab, newline and carriage return escaped.
    const esc = (s: string) => s.replace(/\\/g, '\\\\').replace(/\t/g, '\\t').replace(/\n/g, '\\n').replace(/\r/g, '\\r');
    const lines = rows.map((r) => `${esc(r.key)}\t${r.tenant}\t${esc(r.text)}\t${esc(r.html)}\t${esc(r.headers)}\t${r.raw}\n`);
    await pipeline(Readable.from(lines), c.query(copyFrom(`copy batch_in from stdin`)));
    return (await c.query(`insert into content_objects (${COLS}) select k, t, tx, h, hd::jsonb, r, null from batch_in on conflict (storage_key) do nothing`)).rowCount ?? 0;
  },
};

async function main() {
  const args = parseArgs(process.argv.slice(2));
  const batch = intArg(args, 'batch', 500, 10, 5000);
  const rounds = intArg(args, 'rounds', 6, 1, 100);
  const db = await freshDatabase({ migrationsDir: MIGRATIONS, prefix: 'pm_bench_batchins' });
  const pool = new Pool({ connectionString: db.url, max: 1 });
  try {
    const bodies = contentBodies(batch);
    const mb = bodies.reduce((a, b) => a + b.bytes, 0) / 1e6;
    console.log(`content batch insert: ${new Date().toISOString()}, ${os.cpus().length} cores, load average ${os.loadavg().map((x) => x.toFixed(2)).join(' ')}; ${rounds} rounds × ${batch} bodies (${mb.toFixed(1)} MB a round) per strategy, interleaved, one transaction each`);
    const ms: Record<string, number[]> = Object.fromEntries(Object.keys(strategies).map((k) => [k, []]));
    for (let round = 0; round < rounds; round++) {
      for (const [name, run] of Object.entries(strategies)) {
        const tenant = randomUUID();
        const rows = bodies.map((b) => ({ key: `${tenant}/b/${randomUUID()}`, tenant, text: b.text, html: b.html, headers: JSON.stringify(b.headers), raw: b.bytes }));
        const c = await pool.connect();
        try {
          const t = performance.now();
          await c.query('begin');
          const n = await run(c, rows);
          await c.query('commit');
          ms[name].push(performance.now() - t);
          if (n !== rows.length) throw new Error(`${name} inserted ${n} of ${rows.length}`);
        } finally {
          c.release();
        }
      }
    }
    const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
    const base = median(ms.unnest);
    console.log(table(['strategy', 'median ms', 'objects/s', 'MB/s', 'vs unnest (time)'],
      Object.entries(ms).map(([k, xs]) => [k, median(xs).toFixed(0), (batch / (median(xs) / 1000)).toFixed(0), (mb / (median(xs) / 1000)).toFixed(1), `${(median(xs) / base).toFixed(2)}x`])));
  } finally {
    await pool.end();
    await db.drop();
  }
}

main().then(() => process.exit(0), (err) => { console.error(err); process.exit(1); });
