/**
 * bench:content-upload-staging — where an attachment upload's chunks wait until the stream is
 * complete (issue 11: "a 25 MB attachment never sits whole in memory twice"). The same random
 * file, arriving in `--group-kib` pieces, is stored in `blobs`-shaped table by each strategy, and
 * each is timed with the WAL it wrote and the bench process's peak heap growth:
 *
 *  - whole:   the pieces held in Node, Buffer.concat, one INSERT (what the service did);
 *  - staging: each piece an INSERT into an UNLOGGED staging table, then one
 *             `insert … select string_agg(data, '' order by seq)` assembles them in PostgreSQL;
 *  - lo:      `lo_from_bytea` then `lo_put` per piece (no open transaction needed), then
 *             `insert … select lo_get(oid)` and `lo_unlink`;
 *  - append:  INSERT the first piece, then `update … set content = content || $piece`.
 *
 * Its own database `pm_bench_staging_*`, dropped at the end. WAL is the LSN difference of the
 * whole server (other sessions' writes included: compare within one run).
 *
 *   npx tsx src/content-upload-staging.ts [--mib 25] [--group-kib 1024] [--reps 3]
 */
import { randomBytes } from 'node:crypto';
import { Pool } from 'pg';
import { createBenchDatabase, installInterruptCleanup } from './lib/pg';
import { bytes, intArg, loadAverage, ms, parseArgs, percentile, table } from './lib/report';

type Strategy = 'whole' | 'staging' | 'lo' | 'append';

async function lsn(pool: Pool): Promise<bigint> {
  const { rows } = await pool.query<{ l: string }>(`select (pg_current_wal_lsn() - '0/0'::pg_lsn)::text as l`);
  return BigInt(rows[0].l.split('.')[0]);
}

async function store(pool: Pool, s: Strategy, id: number, file: Buffer, group: number): Promise<void> {
  const pieces = (f: (p: Buffer, seq: number) => Promise<void>) =>
    (async () => {
      for (let o = 0, seq = 0; o < file.length; o += group, seq++) await f(file.subarray(o, o + group), seq);
    })();
  if (s === 'whole') {
    const parts: Buffer[] = [];
    await pieces(async (p) => void parts.push(Buffer.from(p)));
    await pool.query('insert into target (id, content) values ($1, $2)', [id, Buffer.concat(parts)]);
  } else if (s === 'staging') {
    await pieces((p, seq) => pool.query('insert into staged (upload, seq, data) values ($1, $2, $3)', [id, seq, p]).then(() => undefined));
    await pool.query(
      `with parts as (delete from staged where upload = $1 returning seq, data)
       insert into target (id, content) select $1, string_agg(data, ''::bytea order by seq) from parts`,
      [id],
    );
  } else if (s === 'lo') {
    const { rows } = await pool.query<{ oid: number }>(`select lo_from_bytea(0, ''::bytea) as oid`);
    const oid = rows[0].oid;
    let off = 0;
    await pieces(async (p) => {
      await pool.query('select lo_put($1, $2, $3)', [oid, off, p]);
      off += p.length;
    });
    await pool.query(`insert into target (id, content) select $1, lo_get($2)`, [id, oid]);
    await pool.query('select lo_unlink($1)', [oid]);
  } else {
    await pieces(async (p, seq) => {
      if (seq === 0) await pool.query('insert into target (id, content) values ($1, $2)', [id, p]);
      else await pool.query('update target set content = content || $2 where id = $1', [id, p]);
    });
  }
}

async function main() {
  installInterruptCleanup();
  const args = parseArgs(process.argv.slice(2));
  const size = intArg(args, 'mib', 25, 1, 512) * 1024 * 1024;
  const group = intArg(args, 'group-kib', 1024, 16, 65536) * 1024;
  const reps = intArg(args, 'reps', 3, 1, 100);
  const db = await createBenchDatabase('pm_bench_staging');
  const pool = new Pool({ connectionString: db.url, max: 2 });
  const out: (string | number)[][] = [];
  try {
    await pool.query(`create table target (id int primary key, content bytea not null)`);
    await pool.query(`create unlogged table staged (upload int, seq int, data bytea not null, primary key (upload, seq))`);
    let id = 0;
    const strategies: Strategy[] = ['whole', 'staging', 'lo', 'append'];
    const t = new Map<Strategy, { ms: number[]; wal: bigint[]; heap: number[] }>(strategies.map((s) => [s, { ms: [], wal: [], heap: [] }]));
    for (let r = 0; r < reps; r++) {
      for (const s of strategies) {
        const file = randomBytes(size);
        global.gc?.();
        const heap0 = process.memoryUsage();
        let peak = 0;
        const probe = setInterval(() => {
          const m = process.memoryUsage();
          peak = Math.max(peak, m.arrayBuffers + m.heapUsed - heap0.arrayBuffers - heap0.heapUsed);
        }, 2);
        const w0 = await lsn(pool);
        const t0 = performance.now();
        await store(pool, s, ++id, file, group);
        const elapsed = performance.now() - t0;
        const w1 = await lsn(pool);
        clearInterval(probe);
        const { rows } = await pool.query<{ ok: boolean }>(`select content = $2 as ok from target where id = $1`, [id, file]);
        if (!rows[0]?.ok) throw new Error(`${s}: stored bytes differ`);
        await pool.query('delete from target where id = $1', [id]);
        const e = t.get(s)!;
        e.ms.push(elapsed);
        e.wal.push(w1 - w0);
        e.heap.push(peak);
      }
    }
    for (const s of strategies) {
      const e = t.get(s)!;
      const med = (xs: number[]) => percentile(xs, 50);
      out.push([s, reps, ms(med(e.ms)), (size / 1048576 / (med(e.ms) / 1000)).toFixed(1), bytes(Number(e.wal.sort((a, b) => (a < b ? -1 : 1))[Math.floor(e.wal.length / 2)])), bytes(Math.max(...e.heap))]);
    }
  } finally {
    await pool.end();
    await db.drop();
  }
  process.stdout.write(
    `upload staging, ${new Date().toISOString().slice(0, 16)} UTC, load ${loadAverage()}: ${bytes(size)} random file in ${bytes(group)} pieces\n` +
      table(['strategy', 'n', 'p50 ms', 'MB/s', 'WAL (server, median)', 'bench heap+buffers growth (max, 2 ms probe)'], out) +
      '\n',
  );
}

main().catch((e) => {
  process.stderr.write(`${(e as Error).stack}\n`);
  process.exit(1);
});
