/**
 * `pnpm --filter @penguinmails/bench exec tsx src/content-compression.ts [--bodies N] [--blobs N]`
 *
 * Where should content-tier bytes be compressed? Compares, on realistic 5-50 KB HTML bodies
 * (lib/bodies.ts) and on already-compressed data (random bytes standing in for PDF/PNG/ZIP
 * attachments):
 *   - PostgreSQL TOAST compression: pglz (the default) and lz4 (`alter table … alter column …
 *     set compression lz4`, PostgreSQL 14+ built with lz4);
 *   - compression in the service before the insert: gzip (level 6) and brotli (quality 5) from
 *     Node's zlib, stored in a column with `storage external` (no second compression).
 *     zstd is not measured: Node 20 has no zstd in zlib and no zstd package is installed here.
 * Prints stored bytes (pg_total_relation_size, incl. TOAST), insert and read-back times, and
 * the CPU time of the service codecs. Never asserted; numbers depend on the machine.
 */
import { brotliCompressSync, brotliDecompressSync, constants, gzipSync, gunzipSync } from 'node:zlib';
import { randomBytes } from 'node:crypto';
import { Client } from 'pg';
import { makeBodies } from './lib/bodies';
import { generateDataset, messageStrings } from './lib/dataset';
import { createBenchDatabase, installInterruptCleanup } from './lib/pg';
import { Prng } from './lib/prng';
import { bytes, intArg, parseArgs, table } from './lib/report';

interface Codec {
  name: string;
  /** Column compression (pglz / lz4) or `external` = stored as given, compressed by `encode`. */
  column: 'pglz' | 'lz4' | 'external';
  encode?: (b: Buffer) => Buffer;
  decode?: (b: Buffer) => Buffer;
}

const CODECS: Codec[] = [
  { name: 'pg pglz (default)', column: 'pglz' },
  { name: 'pg lz4', column: 'lz4' },
  { name: 'service gzip-6', column: 'external', encode: (b) => gzipSync(b, { level: 6 }), decode: (b) => gunzipSync(b) },
  {
    name: 'service brotli-5',
    column: 'external',
    encode: (b) => brotliCompressSync(b, { params: { [constants.BROTLI_PARAM_QUALITY]: 5, [constants.BROTLI_PARAM_SIZE_HINT]: b.length } }),
    decode: (b) => brotliDecompressSync(b),
  },
  { name: 'none (storage external)', column: 'external' },
];

async function measure(c: Client, codec: Codec, data: Buffer[], label: string): Promise<(string | number)[]> {
  const t = `t_${Math.random().toString(36).slice(2, 8)}`;
  await c.query(`create table ${t} (id int primary key, b bytea)`);
  // PostgreSQL 15 takes neither in `create table`: the alter forms, as a migration would write them.
  await c.query(
    codec.column === 'external' ? `alter table ${t} alter column b set storage external` : `alter table ${t} alter column b set compression ${codec.column}`,
  );
  const raw = data.reduce((a, b) => a + b.length, 0);
  let cpuIn = 0;
  const t0 = performance.now();
  const BATCH = 200;
  for (let i = 0; i < data.length; i += BATCH) {
    const slice = data.slice(i, i + BATCH);
    const c0 = performance.now();
    const enc = codec.encode ? slice.map(codec.encode) : slice;
    cpuIn += performance.now() - c0;
    await c.query(`insert into ${t} select * from unnest($1::int[], $2::bytea[])`, [slice.map((_, j) => i + j), enc]);
  }
  const insertMs = performance.now() - t0;
  await c.query(`vacuum analyze ${t}`);
  const size = Number((await c.query(`select pg_total_relation_size('${t}') as s`)).rows[0].s);
  let cpuOut = 0;
  const r0 = performance.now();
  for (let i = 0; i < data.length; i += BATCH) {
    const { rows } = await c.query<{ b: Buffer }>(`select b from ${t} where id >= $1 and id < $2 order by id`, [i, i + BATCH]);
    const c0 = performance.now();
    if (codec.decode) for (const r of rows) codec.decode(r.b);
    cpuOut += performance.now() - c0;
  }
  const readMs = performance.now() - r0;
  await c.query(`drop table ${t}`);
  const mbs = (ms: number) => (ms > 0 ? ((raw / 1048576) / (ms / 1000)).toFixed(0) : '-');
  return [label, codec.name, bytes(raw), bytes(size), (raw / size).toFixed(2), `${insertMs.toFixed(0)} ms`, `${readMs.toFixed(0)} ms`, codec.encode ? `${mbs(cpuIn)} MB/s` : 'in PG', codec.decode ? `${mbs(cpuOut)} MB/s` : 'in PG'];
}

export async function runCompression(opts: { bodies: number; blobs: number }): Promise<string> {
  installInterruptCleanup();
  const ds = generateDataset({ rows: opts.bodies });
  const html = Array.from({ length: opts.bodies }, (_, i) => Buffer.from(makeBodies(ds, i, messageStrings(ds, i)).html, 'utf8'));
  const r = new Prng(42);
  const blobs = Array.from({ length: opts.blobs }, () => randomBytes(Math.round(r.logUniform(20_000, 500_000))));
  const db = await createBenchDatabase('pm_bench_compress');
  const c = new Client({ connectionString: db.url });
  await c.connect();
  const rows: (string | number)[][] = [];
  try {
    const lz4 = await c.query(`select 1 from pg_settings where name = 'default_toast_compression' and 'lz4' = any(enumvals)`);
    if (!lz4.rowCount) throw new Error('this PostgreSQL was built without lz4');
    for (const codec of CODECS) rows.push(await measure(c, codec, html, `${opts.bodies} HTML bodies 5-50 KB`));
    for (const codec of CODECS) rows.push(await measure(c, codec, blobs, `${opts.blobs} random blobs 20-500 KB`));
  } finally {
    await c.end();
    await db.drop();
  }
  const out =
    'content tier: where to compress (stored = pg_total_relation_size incl. TOAST; codec MB/s = raw MB over service CPU time)\n' +
    table(['data', 'codec', 'raw', 'stored', 'ratio', 'insert', 'read all', 'encode', 'decode'], rows);
  process.stdout.write(out + '\n');
  return out;
}

if (require.main === module) {
  const args = parseArgs(process.argv.slice(2));
  runCompression({ bodies: intArg(args, 'bodies', 2000, 10, 1_000_000), blobs: intArg(args, 'blobs', 200, 1, 100_000) })
    .then(() => process.exit(0))
    .catch((err) => {
      process.stderr.write(`bench failed: ${(err as Error).stack ?? err}\n`);
      process.exit(1);
    });
}
