/**
 * bench:content — the content tier measured through its real process (issue 11, "Measured"):
 *
 *   1. PutContent / GetContent through gRPC at concurrency 1/8/32 on realistic 5-50 KB HTML
 *      bodies (lib/bodies.ts), next to the same rows INSERTed / SELECTed with plain `pg` into an
 *      equivalent table (`create table … (like content_objects including all)`: same columns,
 *      checks, indexes, lz4 compression) in the same database, in the same run;
 *   2. UploadAttachment / DownloadAttachment streams (64 KiB chunks) of 1 and 25 MiB random
 *      files, next to a plain `pg` insert / select of the same bytes into a bytea column;
 *   3. stored bytes of the service's own tables (bodies, and the random attachment bytes in
 *      `blobs` standing in for PDFs/images), as stored and re-encoded as pglz and uncompressed;
 *   4. purge rate of the service's retention sweeper (objects/s, MB/s) while readers call
 *      GetContent at a fixed rate: their p50/p99 before and during the purge;
 *   5. (content-partition.ts) batched deletes vs dropping daily partitions at 1M objects.
 *
 * The service is `services/content/dist/main.js` as a child process (its own Node.js thread,
 * its own fresh database `pm_bench_content_*` and JetStream names `B<hex>_*`, all removed at the
 * end and on Ctrl-C), configured only through its settings: the sweeper runs because
 * RETENTION_SWEEP_MS is short, and the purge objects expire by time passing (PutContent with an
 * `expires` a little in the future), so nothing here depends on the sweeper's internals.
 * Nothing is asserted: figures are printed with their baselines from the same run.
 *
 *   pnpm --filter @penguinmails/bench run bench:content [--quick] [--parts put,attach,stored,purge,partition]
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { freePort } from '@penguinmails/testkit';
import path from 'node:path';
import type { ClientWritableStream, ServiceError } from '@grpc/grpc-js';
import { jetstreamManager } from '@nats-io/jetstream';
import { connect as natsConnect } from '@nats-io/transport-node';
import { contentV1 } from '@penguinmails/contracts';
import { call, connect } from '@penguinmails/service-kit';
import { Pool } from 'pg';
import { runPartition, type PartitionOptions } from './content-partition';
import { contentBodies, type ContentBody } from './lib/content-bodies';
import { closedLoop, FixedRateLoad, sleep, type LoopResult } from './lib/load-gen';
import { assertLocal, createBenchDatabase, installInterruptCleanup, onInterrupt } from './lib/pg';
import { bytes, intArg, loadAverage, ms, parseArgs, percentile, table, type Args } from './lib/report';

const PARTS = ['put', 'attach', 'stored', 'purge', 'partition'] as const;

/**
 * Part 4's service settings: `default` (what a deployment gets: sweepers on their own pool of 2,
 * pausing as long as each transaction took) and `unpaced` (the sweepers on the RPCs' pool, back
 * to back: the service before issue 11's purge fix).
 */
const PURGE_VARIANTS = {
  default: {},
  unpaced: { CONTENT_BACKGROUND_POOL_MAX: '0', CONTENT_SWEEP_PAUSE_RATIO: '0' },
} satisfies Record<string, Record<string, string>>;
type PurgeVariant = keyof typeof PURGE_VARIANTS;
const describeVariant = (v: PurgeVariant) =>
  Object.entries(PURGE_VARIANTS[v]).map(([k, x]) => `${k}=${x}`).join(' ') || 'service defaults';
type Part = (typeof PARTS)[number];
const MiB = 1024 * 1024;
const CHUNK = 64 * 1024;

export interface ContentOptions {
  parts: Set<Part>;
  /** Part 1: calls per (operation, path, concurrency), at most, and seconds, at most. */
  calls: number;
  seconds: number;
  concurrency: number[];
  /** Distinct bodies generated (reused round-robin under distinct keys). */
  bodies: number;
  /** Part 2: file sizes in MiB and repetitions of each. */
  attachMiB: number[];
  attachReps: number;
  /** Part 4: objects expired at once, every Nth with an attachment of attachKiB. */
  purgeObjects: number;
  purgeAttachEvery: number;
  purgeAttachKiB: number;
  /** GetContent calls per second by the readers of part 4. */
  readerRate: number;
  /** Part 4's service settings, by name (PURGE_VARIANTS), each run `purgeRounds` times, alternating. */
  purgeVariants: PurgeVariant[];
  purgeRounds: number;
  /** --cpu-prof DIR: the service runs with `node --cpu-prof` and writes its profile there at exit. */
  cpuProf?: string;
  partition: PartitionOptions;
}

export function contentOptions(args: Args): ContentOptions {
  const quick = args.flags.has('quick');
  const parts = new Set((args.values.get('parts') ?? PARTS.join(',')).split(',') as Part[]);
  for (const p of parts) if (!PARTS.includes(p)) throw new Error(`--parts takes ${PARTS.join(',')}; got ${p}`);
  return {
    parts,
    calls: intArg(args, 'calls', quick ? 200 : 1500, 10, 1_000_000),
    seconds: intArg(args, 'seconds', quick ? 3 : 8, 1, 600),
    concurrency: [1, 8, 32],
    bodies: intArg(args, 'bodies', quick ? 200 : 1000, 10, 100_000),
    attachMiB: (args.values.get('attach-mib') ?? (quick ? '1,5' : '1,25')).split(',').map(Number),
    attachReps: intArg(args, 'attach-reps', quick ? 2 : 5, 1, 1000),
    purgeObjects: intArg(args, 'purge-objects', quick ? 400 : 5000, 10, 1_000_000),
    purgeAttachEvery: intArg(args, 'purge-attach-every', 20, 1, 1_000_000),
    purgeAttachKiB: intArg(args, 'purge-attach-kib', 256, 1, 25 * 1024),
    readerRate: intArg(args, 'reader-rate', 50, 1, 10_000),
    purgeVariants: (args.values.get('purge-variants') ?? 'default').split(',').map((v) => {
      if (!(v in PURGE_VARIANTS)) throw new Error(`--purge-variants takes ${Object.keys(PURGE_VARIANTS).join(',')}; got ${v}`);
      return v as PurgeVariant;
    }),
    purgeRounds: intArg(args, 'purge-rounds', 1, 1, 20),
    cpuProf: args.values.get('cpu-prof'),
    partition: {
      smallRows: intArg(args, 'partition-rows', quick ? 100_000 : 1_000_000, 1_000, 20_000_000),
      bigRows: intArg(args, 'partition-big-rows', quick ? 10_000 : 100_000, 0, 5_000_000),
      days: 30,
      expiredDays: intArg(args, 'expired-days', 10, 1, 29),
      deleteBatch: intArg(args, 'delete-batch', 500, 1, 100_000),
      readerRate: intArg(args, 'partition-reader-rate', 100, 1, 10_000),
      baselineSeconds: quick ? 3 : 5,
    },
  };
}

const log = (s: string) => process.stdout.write(s + '\n');
const mbs = (b: number, seconds: number) => (seconds > 0 ? (b / MiB / seconds).toFixed(1) : '-');
const sha256Hex = (b: Buffer) => createHash('sha256').update(b).digest('hex');
const code = (e: unknown) => (e as ServiceError).code;

/** Peak and current resident memory of a process, from /proc (Linux). */
function memory(pid: number | undefined): string {
  if (pid === undefined) return '-';
  try {
    const st = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = (k: string) => Number(new RegExp(`${k}:\\s+(\\d+)`).exec(st)?.[1] ?? NaN) * 1024;
    return `peak RSS ${bytes(kb('VmHWM'))}, RSS now ${bytes(kb('VmRSS'))}`;
  } catch {
    return '-';
  }
}

/** Resident memory (VmRSS) and its peak (VmHWM) of a process, bytes; undefined off Linux. */
function procMemory(pid: number | undefined): { rss: number; peak: number } | undefined {
  if (pid === undefined) return undefined;
  try {
    const st = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = (k: string) => Number(new RegExp(`${k}:\\s+(\\d+)`).exec(st)?.[1] ?? NaN) * 1024;
    return { rss: kb('VmRSS'), peak: kb('VmHWM') };
  } catch {
    return undefined;
  }
}

/**
 * Resets the process's peak RSS (VmHWM) to its current RSS (Linux: `5` to /proc/<pid>/clear_refs),
 * so the peak of one operation can be read after it. False when the kernel refuses.
 */
function resetPeak(pid: number | undefined): boolean {
  if (pid === undefined) return false;
  try {
    writeFileSync(`/proc/${pid}/clear_refs`, '5');
    return true;
  } catch {
    return false;
  }
}

/** Measures how far `fn` raised the process's resident memory above where it started (peak − RSS before). */
async function peakGrowth<T>(pid: number | undefined, fn: () => Promise<T>): Promise<{ value: T; growth: number }> {
  const before = resetPeak(pid) ? procMemory(pid) : undefined;
  const value = await fn();
  const after = procMemory(pid);
  return { value, growth: before && after ? after.peak - before.rss : NaN };
}

interface Ctx {
  client: contentV1.ContentServiceClient;
  pool: Pool;
  tenant: string;
  bodies: ContentBody[];
  child: ChildProcess;
  /** The service's /metrics (METRICS_PORT). */
  metricsUrl: string;
  /** Keys PutContent stored in part 1 (never expiring): what readers read. */
  liveKeys: string[];
}

export async function runContent(o: ContentOptions): Promise<string> {
  installInterruptCleanup();
  const started = new Date();
  const loadStart = loadAverage();
  log(`\n=== content tier: PutContent/GetContent, attachment streams, stored bytes, purge, partitions ===`);
  log(`load average at start: ${loadStart}`);
  const out: string[] = [];
  const serviceParts = (['put', 'attach', 'stored', 'purge'] as Part[]).filter((p) => o.parts.has(p));
  if (serviceParts.length) out.push(await runServiceParts(o));
  if (o.parts.has('partition')) out.push(await runPartition(o.partition));
  const header = `content bench, ${started.toISOString().replace('T', ' ').slice(0, 16)} UTC, load average at start ${loadStart}, at end ${loadAverage()}; PostgreSQL and NATS shared with other sessions`;
  const report = [header, ...out].join('\n\n');
  log('\n' + report);
  return report;
}

async function runServiceParts(o: ContentOptions): Promise<string> {
  const natsUrl = process.env.NATS_URL ?? 'nats://127.0.0.1:4222';
  assertLocal(natsUrl, 'NATS_URL');
  const db = await createBenchDatabase('pm_bench_content');
  const prefix = `B${randomBytes(4).toString('hex').toUpperCase()}`;
  const port = await freePort();
  const metricsPort = await freePort();
  // CONTENT_MAIN_JS: another build of the service (e.g. a checkout of an earlier commit), for a
  // before/after comparison with the same bench code.
  const main = process.env.CONTENT_MAIN_JS ?? path.join(path.dirname(require.resolve('@penguinmails/content/package.json')), 'dist', 'main.js');
  let child: ChildProcess | undefined;
  const cleanupStreams = async () => {
    const nc = await natsConnect({ servers: natsUrl });
    try {
      const jsm = await jetstreamManager(nc);
      for await (const s of jsm.streams.list()) if (s.config.name.startsWith(`${prefix}_`)) await jsm.streams.delete(s.config.name);
    } finally {
      await nc.close();
    }
  };
  const unregister = onInterrupt(async () => {
    child?.kill('SIGKILL');
    await cleanupStreams();
  });
  const client = connect(contentV1.ContentServiceClient, `127.0.0.1:${port}`);
  const pool = new Pool({ connectionString: db.url, max: 10 }); // the service's DATABASE_POOL_MAX default
  // An idle connection ended by the drop on Ctrl-C (`with (force)`) must not crash the cleanup.
  pool.on('error', () => undefined);
  const sections: string[] = [];
  try {
    // --cpu-prof DIR: the service writes a V8 CPU profile there when it exits (SIGTERM below).
    const prof = o.cpuProf ? ['--cpu-prof', '--cpu-prof-dir', path.resolve(o.cpuProf)] : [];
    // Starts the service (extra settings: a purge variant) and waits until it answers.
    const start = async (extra: Record<string, string> = {}): Promise<ChildProcess> => {
      const c = spawn(process.execPath, [...prof, main], {
        env: {
          ...process.env,
          DATABASE_URL: db.url,
          DATABASE_POOL_MAX: '10',
          GRPC_HOST: '127.0.0.1',
          GRPC_PORT: String(port),
          // /metrics for part 4: the service's event-loop lag and pool waiters during the purge.
          METRICS_PORT: String(metricsPort),
          METRICS_HOST: '127.0.0.1',
          NATS_URL: natsUrl,
          EVENTS_SUBJECT_PREFIX: prefix.toLowerCase(),
          EVENTS_STREAM_PREFIX: prefix,
          // The retention sweeper runs often, so part 4 sees it start within ~200 ms of the expiry.
          RETENTION_SWEEP_MS: '200',
          // The orphan sweep off: the bench's objects have no message refs (no metadata tier here).
          CONTENT_ORPHAN_GRACE_MS: '0',
          LOG_LEVEL: 'warn',
          ...extra,
        },
        stdio: ['ignore', 'inherit', 'inherit'],
      });
      child = c;
      const probeTenant = randomUUID();
      for (let i = 0; ; i++) {
        try {
          await call(client, 'getContent', { tenantId: probeTenant, storageKey: `${probeTenant}/probe` }, { deadlineMs: 1000 });
          break;
        } catch (e) {
          if (code(e) === 5) break; // NOT_FOUND: the service answers
          if (i > 150 || c.exitCode !== null) throw new Error(`the content service did not start: ${(e as Error).message}`);
          await sleep(200);
        }
      }
      return c;
    };
    const stop = async (c: ChildProcess) => {
      if (c.exitCode !== null) return;
      const exited = new Promise((r) => c.once('exit', r));
      c.kill('SIGTERM');
      await Promise.race([exited, sleep(10_000)]);
      if (c.exitCode === null) c.kill('SIGKILL');
    };
    child = await start();
    log(`content service up (${main}, pid ${child.pid}, port ${port}, database ${db.name}, streams ${prefix}_*); ${memory(child.pid)}`);
    const t0 = performance.now();
    const bodies = contentBodies(o.bodies);
    const avg = bodies.reduce((a, b) => a + b.bytes, 0) / bodies.length;
    log(`${bodies.length} bodies generated in ${((performance.now() - t0) / 1000).toFixed(1)} s, ${bytes(avg)} each on average (text + html + headers)`);
    const ctx: Ctx = { client, pool, tenant: randomUUID(), bodies, child, metricsUrl: `http://127.0.0.1:${metricsPort}/metrics`, liveKeys: [] };

    let putRate = 100;
    if (o.parts.has('put') || o.parts.has('purge')) {
      const r = await partPutGet(ctx, o.parts.has('put') ? o : { ...o, concurrency: [8], calls: Math.min(o.calls, 300) });
      putRate = r.putRate;
      if (o.parts.has('put')) sections.push(r.report);
    }
    if (o.parts.has('attach')) sections.push(await partAttachments(ctx, o));
    if (o.parts.has('stored')) sections.push(await partStored(ctx));
    if (o.parts.has('purge')) {
      // Each variant in its own service process (settings are read at start), over the same
      // database; rounds alternate the variants so the machine's drift hits both alike.
      const results: string[] = [];
      for (let round = 0; round < o.purgeRounds; round++) {
        for (const v of o.purgeVariants) {
          if (o.purgeVariants.length > 1 || round > 0) {
            await stop(ctx.child);
            ctx.child = await start(PURGE_VARIANTS[v]);
          }
          results.push(await partPurge(ctx, o, putRate, `${v} (${describeVariant(v)}), round ${round + 1}`));
        }
      }
      sections.push(results.join('\n\n'));
    }
    return sections.join('\n\n');
  } finally {
    client.close();
    await pool.end().catch(() => undefined);
    if (child && child.exitCode === null) {
      child.kill('SIGTERM');
      await Promise.race([new Promise((r) => child!.once('exit', r)), sleep(10_000)]);
      if (child.exitCode === null) child.kill('SIGKILL');
    }
    await cleanupStreams().catch((e) => log(`could not delete streams ${prefix}_*: ${(e as Error).message}`));
    unregister();
    await db.drop();
    log(`database ${db.name} dropped, streams ${prefix}_* deleted`);
  }
}

// ------------------------------------------------------------------ 1. PutContent / GetContent

interface Row {
  op: string;
  path: string;
  concurrency: number;
  r: LoopResult;
  bytesPerCall: number;
}

async function partPutGet(ctx: Ctx, o: ContentOptions): Promise<{ report: string; putRate: number }> {
  const { client, pool, tenant, bodies } = ctx;
  // The same columns, checks, indexes and column compression as the service's table.
  await pool.query('create table bench_plain_objects (like content_objects including all)');
  const rows: Row[] = [];
  const avg = bodies.reduce((a, b) => a + b.bytes, 0) / bodies.length;
  let putRate = 0;
  const waits: string[] = [];
  for (const conc of o.concurrency) {
    const grpcKeys: string[] = [];
    const pgKeys: string[] = [];
    const key = (p: string, n: number) => `${tenant}/bench/${p}/c${conc}/${n}`;
    // What the service's connections wait on while it stores (the sampler sees this database only).
    const activity = new ActivitySampler(pool);
    activity.start();
    const put = await closedLoop(conc, o.calls, o.seconds, async (n) => {
      const b = bodies[n % bodies.length];
      const k = key('grpc', n);
      await call(client, 'putContent', contentV1.PutContentRequest.fromPartial({ tenantId: tenant, storageKey: k, contentText: b.text, contentHtml: b.html, headers: b.headers }));
      grpcKeys.push(k);
    });
    waits.push(activity.stop(`PutContent via gRPC at concurrency ${conc}`));
    rows.push({ op: 'PutContent', path: 'gRPC', concurrency: conc, r: put, bytesPerCall: avg });
    if (conc === 8) putRate = put.calls / put.seconds;
    rows.push({
      op: 'PutContent',
      path: 'pg INSERT (same row)',
      concurrency: conc,
      bytesPerCall: avg,
      r: await closedLoop(conc, o.calls, o.seconds, async (n) => {
        const b = bodies[n % bodies.length];
        const k = key('pg', n);
        await pool.query(
          `insert into bench_plain_objects (storage_key, tenant_id, content_text, content_html, headers, raw_size_bytes) values ($1, $2, $3, $4, $5, $6)`,
          [k, tenant, b.text, b.html, JSON.stringify(b.headers), b.bytes],
        );
        pgKeys.push(k);
      }),
    });
    const pick = (keys: string[], n: number) => keys[(n * 7919) % keys.length];
    rows.push({
      op: 'GetContent',
      path: 'gRPC',
      concurrency: conc,
      bytesPerCall: avg,
      r: await closedLoop(conc, o.calls, o.seconds, async (n) => {
        const res = await call(client, 'getContent', { tenantId: tenant, storageKey: pick(grpcKeys, n) });
        if (!res.contentHtml) throw new Error('GetContent returned no html');
      }),
    });
    rows.push({
      op: 'GetContent',
      path: 'pg SELECT (same row)',
      concurrency: conc,
      bytesPerCall: avg,
      r: await closedLoop(conc, o.calls, o.seconds, async (n) => {
        const { rows: got } = await pool.query(
          `select storage_key, tenant_id, content_text, content_html, headers, raw_size_bytes, created, expires from bench_plain_objects
            where storage_key = $1 and tenant_id = $2 and (expires is null or expires > now())`,
          [pick(pgKeys, n), tenant],
        );
        if (got.length !== 1) throw new Error('select found no row');
      }),
    });
    ctx.liveKeys.push(...grpcKeys);
    log(`  put/get at concurrency ${conc} done (${grpcKeys.length} objects stored through gRPC)`);
  }
  for (const r of rows) if (r.r.errors) log(`  ${r.op} via ${r.path} at ${r.concurrency}: ${r.r.errors} errors, first: ${r.r.firstError}`);
  const tableRows = rows.map((r) => {
    const rate = r.r.calls / r.r.seconds;
    const base = r.path === 'gRPC' ? rows.find((b) => b.op === r.op && b.concurrency === r.concurrency && b.path !== 'gRPC') : undefined;
    return [
      r.op,
      r.path,
      r.concurrency,
      r.r.calls,
      Math.round(rate),
      mbs(r.bytesPerCall * r.r.calls, r.r.seconds),
      ms(percentile(r.r.latencies, 50)),
      ms(percentile(r.r.latencies, 99)),
      base ? `${(rate / (base.r.calls / base.r.seconds)).toFixed(2)}x of pg` : '',
      r.r.errors,
    ];
  });
  const report =
    `1. PutContent / GetContent: closed loop, up to ${o.calls} calls or ${o.seconds} s per row, ${bodies.length} distinct 5-50 KB bodies (${bytes(avg)} text + html + headers on average); ` +
    `gRPC to the service process (pool 10) vs plain pg (pool 10) on \`like content_objects including all\` in the same database; the bench process (gRPC client, Struct encoding) shares the cores\n` +
    table(['operation', 'path', 'concurrency', 'calls', 'calls/s', 'MB/s', 'p50 ms', 'p99 ms', 'throughput vs baseline', 'errors'], tableRows) +
    '\n' +
    waits.join('\n');
  return { report, putRate };
}

// ------------------------------------------------------------- 2. attachment streams vs bytea

function upload(client: contentV1.ContentServiceClient, tenant: string, parent: string, data: Buffer, sha: string): Promise<contentV1.UploadAttachmentResponse> {
  return new Promise((resolve, reject) => {
    const stream: ClientWritableStream<contentV1.UploadAttachmentRequest> = client.uploadAttachment((err, res) => (err ? reject(err) : resolve(res!)));
    stream.on('error', () => undefined); // the callback has it
    const first = contentV1.UploadAttachmentRequest.fromPartial({
      tenantId: tenant,
      metadata: { parentStorageKey: parent, filename: 'report.pdf', mimeType: 'application/pdf', sizeBytes: BigInt(data.length), sha256: sha },
    });
    let offset = 0;
    // Honour back-pressure: a 25 MiB file is never queued whole in the client's buffers.
    const pump = () => {
      while (offset < data.length) {
        const chunk = data.subarray(offset, offset + CHUNK);
        const ok = stream.write({ tenantId: '', chunk: { offset: BigInt(offset), data: chunk } });
        offset += chunk.length;
        if (!ok) return void stream.once('drain', pump);
      }
      stream.end();
    };
    if (stream.write(first)) pump();
    else stream.once('drain', pump);
  });
}

function download(client: contentV1.ContentServiceClient, tenant: string, id: string): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const parts: Buffer[] = [];
    const s = client.downloadAttachment({ tenantId: tenant, attachmentId: id, chunkSize: CHUNK });
    s.on('data', (m: contentV1.DownloadAttachmentResponse) => {
      if (m.chunk) parts.push(Buffer.from(m.chunk.data));
    });
    s.on('error', reject);
    s.on('end', () => resolve(Buffer.concat(parts)));
  });
}

async function partAttachments(ctx: Ctx, o: ContentOptions): Promise<string> {
  const { client, pool, tenant } = ctx;
  const parent = `${tenant}/bench/attachment-parent`;
  await call(client, 'putContent', contentV1.PutContentRequest.fromPartial({ tenantId: tenant, storageKey: parent, contentText: 'see attached' }));
  // Same storage as the service's blobs.content (lz4 where the server has it; random bytes do not compress either way).
  await pool.query('create table bench_plain_bytes (id uuid primary key, content bytea not null)');
  await pool.query(`alter table bench_plain_bytes alter column content set compression ${await toastCompression(pool)}`);
  const before = memory(ctx.child.pid);
  const rows: (string | number)[][] = [];
  let hashMs = 0;
  let hashed = 0;
  for (const mib of o.attachMiB) {
    const size = Math.round(mib * MiB);
    const t: Record<'up' | 'down' | 'ins' | 'sel', number[]> = { up: [], down: [], ins: [], sel: [] };
    // The service's resident memory above its level before each call, worst of the repetitions.
    const grew = { up: 0, down: 0 };
    let errors = 0;
    let firstError = '';
    for (let rep = 0; rep < o.attachReps; rep++) {
      const data = randomBytes(size);
      let s = performance.now();
      const sha = sha256Hex(data); // the caller's cost before the first message (not in the upload time)
      hashMs += performance.now() - s;
      hashed += size;
      try {
        s = performance.now();
        const up = await peakGrowth(ctx.child.pid, () => upload(client, tenant, parent, data, sha));
        t.up.push(performance.now() - s);
        grew.up = Math.max(grew.up, up.growth);
        s = performance.now();
        const down = await peakGrowth(ctx.child.pid, () => download(client, tenant, up.value.attachment!.id));
        t.down.push(performance.now() - s);
        grew.down = Math.max(grew.down, down.growth);
        const got = down.value;
        if (!got.equals(data)) throw new Error(`DownloadAttachment returned ${got.length} bytes that differ from the ${size} uploaded`);
      } catch (e) {
        errors++;
        firstError ||= (e as Error).message;
      }
      const id = randomUUID();
      s = performance.now();
      await pool.query('insert into bench_plain_bytes (id, content) values ($1, $2)', [id, data]);
      t.ins.push(performance.now() - s);
      s = performance.now();
      const { rows: got } = await pool.query<{ content: Buffer }>('select content from bench_plain_bytes where id = $1', [id]);
      t.sel.push(performance.now() - s);
      if (!got[0].content.equals(data)) throw new Error('pg returned other bytes');
    }
    if (errors) log(`  attachments ${mib} MiB: ${errors} errors, first: ${firstError}`);
    const rate = (xs: number[]) => (xs.length ? size / MiB / (percentile(xs, 50) / 1000) : NaN);
    const row = (op: string, p: string, xs: number[], base?: number[], growth?: number) => [
      `${mib} MiB`,
      op,
      p,
      xs.length,
      ms(percentile(xs, 50)),
      ms(Math.max(...xs)),
      Number.isFinite(rate(xs)) ? rate(xs).toFixed(1) : '-',
      base ? `${(rate(xs) / rate(base)).toFixed(2)}x of pg` : '',
      growth === undefined ? '' : Number.isNaN(growth) ? '-' : `${bytes(growth)} (${(growth / size).toFixed(1)}x the file)`,
    ];
    rows.push(row('upload', 'gRPC UploadAttachment (64 KiB chunks)', t.up, t.ins, grew.up));
    rows.push(row('upload', 'pg INSERT bytea', t.ins));
    rows.push(row('download', 'gRPC DownloadAttachment (64 KiB chunks)', t.down, t.sel, grew.down));
    rows.push(row('download', 'pg SELECT bytea', t.sel));
    log(`  attachments ${mib} MiB done`);
  }
  return (
    `2. Attachment streams: random bytes (unique: no de-duplication), ${o.attachReps} per size, upload then download, each next to a plain pg insert/select of the same bytes ` +
    `(bytea, same column compression); MB/s from the median; the client's SHA-256 before the upload (${mbs(hashed, hashMs / 1000)} MB/s) is not in the upload time\n` +
    `; service RSS growth = the service process's peak RSS during one call above its RSS before it (peak reset through /proc/<pid>/clear_refs), worst of the ${o.attachReps}\n` +
    table(['file', 'op', 'path', 'n', 'p50 ms', 'max ms', 'MB/s', 'vs baseline', 'service RSS growth'], rows) +
    `\nservice process memory: before the attachments ${before}; after ${memory(ctx.child.pid)}`
  );
}

async function toastCompression(pool: Pool): Promise<'lz4' | 'pglz'> {
  const { rowCount } = await pool.query(`select 1 from pg_settings where name = 'default_toast_compression' and 'lz4' = any(enumvals)`);
  return rowCount ? 'lz4' : 'pglz';
}

// ------------------------------------------------------------------------ 3. stored bytes

async function partStored(ctx: Ctx): Promise<string> {
  const { pool } = ctx;
  const rows: (string | number)[][] = [];
  const methods = await pool.query<{ t: string; m: string | null; n: string }>(
    `select 'content_objects.content_html' as t, pg_column_compression(content_html) as m, count(*)::text as n from content_objects group by 2
     union all select 'blobs.content', pg_column_compression(content), count(*)::text from blobs group by 2 order by 1, 2`,
  );
  // Bodies: the service's rows, and the same values re-encoded (`|| ''` makes a new datum, so the
  // target column's compression applies; an INSERT … SELECT of the stored datum would copy it as is).
  const bodyCols = `storage_key, tenant_id, content_text || '', content_html || '', (headers::text)::jsonb, raw_size_bytes, created, expires`;
  const raw = await pool.query<{ n: string; raw: string; stored: string }>(
    `select count(*)::text as n,
            sum(coalesce(octet_length(content_text), 0) + coalesce(octet_length(content_html), 0) + coalesce(octet_length(headers::text), 0))::text as raw,
            sum(coalesce(pg_column_size(content_text), 0) + coalesce(pg_column_size(content_html), 0) + coalesce(pg_column_size(headers), 0))::text as stored
       from content_objects`,
  );
  const blobRaw = await pool.query<{ n: string; raw: string; stored: string }>(
    `select count(*)::text as n, coalesce(sum(octet_length(content)), 0)::text as raw, coalesce(sum(pg_column_size(content)), 0)::text as stored from blobs`,
  );
  const size = async (t: string) => Number((await pool.query<{ s: string }>(`select pg_total_relation_size($1::regclass)::text as s`, [t])).rows[0].s);
  const heapToast = async (t: string) => {
    const { rows: r } = await pool.query<{ heap: string; toast: string }>(
      `select pg_relation_size(c.oid)::text as heap, coalesce(pg_total_relation_size(nullif(c.reltoastrelid, 0)), 0)::text as toast from pg_class c where c.oid = $1::regclass`,
      [t],
    );
    return `${bytes(Number(r[0].heap))} heap + ${bytes(Number(r[0].toast))} TOAST`;
  };
  await pool.query('vacuum analyze content_objects');
  await pool.query('vacuum analyze blobs');
  const bodyRaw = Number(raw.rows[0].raw);
  const blobsRaw = Number(blobRaw.rows[0].raw);
  rows.push([`bodies (${raw.rows[0].n} objects)`, 'service table as stored (content_objects, with its indexes)', bytes(bodyRaw), bytes(await size('content_objects')), await heapToast('content_objects'), `values ${bytes(Number(raw.rows[0].stored))}`]);
  rows.push([`attachments (${blobRaw.rows[0].n} blobs, random)`, 'service table as stored (blobs, with its index)', bytes(blobsRaw), bytes(await size('blobs')), await heapToast('blobs'), `values ${bytes(Number(blobRaw.rows[0].stored))}`]);
  for (const [label, setting] of [
    ['lz4', 'set compression lz4'],
    ['pglz (PostgreSQL default)', 'set compression pglz'],
    ['none (storage external)', 'set storage external'],
  ] as const) {
    if (label === 'lz4' && (await toastCompression(pool)) !== 'lz4') continue;
    await pool.query('drop table if exists bench_copy_objects, bench_copy_blobs');
    await pool.query('create table bench_copy_objects (like content_objects including defaults)');
    for (const c of ['content_text', 'content_html', 'headers']) await pool.query(`alter table bench_copy_objects alter column ${c} ${setting}`);
    await pool.query(`insert into bench_copy_objects select ${bodyCols} from content_objects`);
    await pool.query('create table bench_copy_blobs (like blobs including defaults)');
    await pool.query(`alter table bench_copy_blobs alter column content ${setting}`);
    await pool.query(`insert into bench_copy_blobs select tenant_id, sha256, size_bytes, content || ''::bytea, ref_count, created from blobs`);
    await pool.query('vacuum analyze bench_copy_objects');
    await pool.query('vacuum analyze bench_copy_blobs');
    const o = await size('bench_copy_objects');
    const b = await size('bench_copy_blobs');
    rows.push(['bodies', `copy, no indexes, ${label}`, bytes(bodyRaw), bytes(o), await heapToast('bench_copy_objects'), `raw/stored ${(bodyRaw / o).toFixed(2)}`]);
    rows.push(['attachments (random)', `copy, no indexes, ${label}`, bytes(blobsRaw), bytes(b), await heapToast('bench_copy_blobs'), `raw/stored ${(blobsRaw / b).toFixed(2)}`]);
  }
  await pool.query('drop table if exists bench_copy_objects, bench_copy_blobs');
  return (
    `3. Stored bytes (pg_total_relation_size incl. TOAST; "values" = sum of pg_column_size), from the service's own tables after parts 1-2, and the same values re-encoded\n` +
    table(['data', 'table', 'raw', 'stored', 'of which', 'note'], rows) +
    `\ncompression of the stored values: ${methods.rows.map((r) => `${r.t} ${r.m ?? 'not compressed'} ${r.n}`).join(', ')}`
  );
}

// --------------------------------------------------------------------------------- 4. purge

/**
 * Scrapes the service's /metrics every `everyMs`: the event-loop lag (prom-client's
 * `nodejs_eventloop_lag_max_seconds` / `_p99_seconds`, reset at each scrape, so each sample
 * covers the interval since the previous one) and callers queued for a pooled connection
 * (`pm_pg_pool_clients{state="waiting"}`). Tells a busy event loop from a starved pool.
 */
class ServiceMetricsSampler {
  private readonly lagMax: number[] = [];
  private readonly lagP99: number[] = [];
  private readonly waiting: number[] = [];
  private timer?: NodeJS.Timeout;
  private busy = false;

  constructor(
    private readonly url: string,
    private readonly everyMs = 250,
  ) {}

  private async scrape(): Promise<Map<string, number> | undefined> {
    try {
      const text = await (await fetch(this.url)).text();
      const out = new Map<string, number>();
      for (const line of text.split('\n')) {
        const m = /^([a-z_]+(?:\{[^}]*\})?) ([0-9.e+-]+)$/.exec(line);
        if (m) out.set(m[1], Number(m[2]));
      }
      return out;
    } catch {
      return undefined;
    }
  }

  async start(): Promise<void> {
    await this.scrape(); // resets the lag histogram
    this.timer = setInterval(() => {
      if (this.busy) return;
      this.busy = true;
      void this.scrape()
        .then((m) => {
          if (!m) return;
          this.lagMax.push((m.get('nodejs_eventloop_lag_max_seconds') ?? NaN) * 1000);
          this.lagP99.push((m.get('nodejs_eventloop_lag_mean_seconds') ?? NaN) * 1000);
          this.waiting.push(m.get('pm_pg_pool_clients{state="waiting"}') ?? NaN);
        })
        .finally(() => (this.busy = false));
    }, this.everyMs);
  }

  stop(): string {
    clearInterval(this.timer);
    const n = this.lagMax.length;
    if (!n) return 'service /metrics: no samples';
    const max = (xs: number[]) => Math.max(...xs);
    const avg = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
    return (
      `service /metrics during the purge (${n} scrapes every ${this.everyMs} ms): event-loop lag max ${ms(max(this.lagMax))} ms (median of the intervals' max ${ms(percentile(this.lagMax, 50))} ms), ` +
      `mean per interval ${ms(percentile(this.lagP99, 50))}-${ms(max(this.lagP99))} ms; callers waiting for a pooled connection ${avg(this.waiting).toFixed(1)} on average (max ${max(this.waiting)})`
    );
  }
}

/**
 * Samples pg_stat_activity of the bench database every `everyMs` (the service's connections:
 * the bench's own sampler and counter excluded): per sample, how many were active, idle in a
 * transaction, or waiting on a lock, and which statements were running. Diagnoses where the
 * readers' time goes during the purge.
 */
class ActivitySampler {
  private readonly samples: { active: number; idleTx: number; lockWait: number; total: number }[] = [];
  private readonly statements = new Map<string, number>();
  private readonly waits = new Map<string, number>();
  private timer?: NodeJS.Timeout;
  private busy = false;

  constructor(
    private readonly pool: Pool,
    private readonly everyMs = 20,
  ) {}

  start(): void {
    this.timer = setInterval(() => void this.sample(), this.everyMs);
  }

  private async sample(): Promise<void> {
    if (this.busy) return;
    this.busy = true;
    try {
      const { rows } = await this.pool.query<{ state: string | null; wait: string | null; q: string }>(
        `select state, wait_event_type || ':' || wait_event as wait, left(regexp_replace(query, '\\s+', ' ', 'g'), 60) as q
           from pg_stat_activity
          where datname = current_database() and backend_type = 'client backend' and pid <> pg_backend_pid()
            and query not like '%pg_stat_activity%' and query not like 'select count(*)::text as n from content_objects where tenant_id%'`,
      );
      let active = 0;
      let idleTx = 0;
      let lockWait = 0;
      for (const r of rows) {
        if (r.state === 'active') {
          active++;
          this.statements.set(r.q, (this.statements.get(r.q) ?? 0) + 1);
          if (r.wait) this.waits.set(r.wait, (this.waits.get(r.wait) ?? 0) + 1);
          if (r.wait?.startsWith('Lock:')) lockWait++;
        } else if (r.state?.startsWith('idle in transaction')) idleTx++;
      }
      this.samples.push({ active, idleTx, lockWait, total: rows.length });
    } catch {
      // a sample lost to a busy server is just not counted
    } finally {
      this.busy = false;
    }
  }

  stop(what = 'the purge'): string {
    clearInterval(this.timer);
    const n = this.samples.length || 1;
    const avg = (k: 'active' | 'idleTx' | 'lockWait' | 'total') => (this.samples.reduce((a, s) => a + s[k], 0) / n).toFixed(1);
    const max = (k: 'active' | 'idleTx' | 'total') => Math.max(0, ...this.samples.map((s) => s[k]));
    const top = (m: Map<string, number>, k: number) =>
      [...m.entries()]
        .sort((a, b) => b[1] - a[1])
        .slice(0, k)
        .map(([q, c]) => `${(c / n).toFixed(2)} × "${q}"`)
        .join('; ');
    return (
      `pg_stat_activity of the service during ${what} (${this.samples.length} samples every ${this.everyMs} ms): connections ${avg('total')} (max ${max('total')}), ` +
      `active ${avg('active')} (max ${max('active')}), idle in transaction ${avg('idleTx')} (max ${max('idleTx')}), waiting on a lock ${avg('lockWait')}\n` +
      `  running (average per sample): ${top(this.statements, 6) || 'nothing'}\n  waits of active ones: ${top(this.waits, 5) || 'none'}`
    );
  }
}

async function partPurge(ctx: Ctx, o: ContentOptions, putRate: number, variant: string): Promise<string> {
  const { client, pool, bodies } = ctx;
  const purgeTenant = randomUUID();
  // Readers need live objects: part 1's, or a few stored now when part 1 did not run.
  if (!ctx.liveKeys.length) {
    for (let i = 0; i < 200; i++) {
      const k = `${ctx.tenant}/bench/live/${i}`;
      const b = bodies[i % bodies.length];
      await call(client, 'putContent', contentV1.PutContentRequest.fromPartial({ tenantId: ctx.tenant, storageKey: k, contentText: b.text, contentHtml: b.html, headers: b.headers }));
      ctx.liveKeys.push(k);
    }
  }
  const keys = ctx.liveKeys;
  const reader = (n: number) => call(ctx.client, 'getContent', { tenantId: ctx.tenant, storageKey: keys[(n * 7919) % keys.length] });
  const baselineSeconds = o.partition.baselineSeconds;

  // Readers alone (nothing expired: the sweeper finds nothing every 200 ms).
  const base = new FixedRateLoad(o.readerRate, 64, reader);
  const b0 = performance.now();
  await sleep(baselineSeconds * 1000);
  await base.stop();
  const without = base.window(b0, b0 + baselineSeconds * 1000);

  // The purge set, stored through PutContent with one `expires` for all, far enough ahead that
  // the load (at the put rate part 1 measured, with margin) ends before it.
  const estimate = o.purgeObjects / Math.max(20, putRate) + (o.purgeObjects / o.purgeAttachEvery) * 0.05;
  const leadMs = Math.round(Math.max(10, 2 * estimate + 5) * 1000);
  const expiresAt = new Date(Date.now() + leadMs);
  const expiresPerf = performance.now() + leadMs;
  let rawBytes = 0;
  let attachments = 0;
  let late = 0;
  const l0 = performance.now();
  const load = await closedLoop(8, o.purgeObjects, 3600, async (n) => {
    const b = bodies[n % bodies.length];
    const k = `${purgeTenant}/bench/purge/${n}`;
    try {
      await call(client, 'putContent', contentV1.PutContentRequest.fromPartial({ tenantId: purgeTenant, storageKey: k, contentText: b.text, contentHtml: b.html, headers: b.headers, expires: expiresAt }));
    } catch (e) {
      if (code(e) === 3 && Date.now() >= expiresAt.getTime()) late++;
      throw e;
    }
    rawBytes += b.bytes;
    if (n % o.purgeAttachEvery === 0) {
      const data = randomBytes(o.purgeAttachKiB * 1024);
      await upload(client, purgeTenant, k, data, sha256Hex(data));
      rawBytes += data.length;
      attachments++;
    }
  });
  const loadSeconds = (performance.now() - l0) / 1000;
  log(`  purge set: ${load.calls} objects (${attachments} with a ${o.purgeAttachKiB} KiB attachment) stored in ${loadSeconds.toFixed(1)} s; expiry in ${((expiresPerf - performance.now()) / 1000).toFixed(1)} s`);
  if (load.errors) log(`  purge set: ${load.errors} puts failed (${late} because the expiry had passed), first: ${load.firstError}`);
  const count = async () => Number((await pool.query<{ n: string }>('select count(*)::text as n from content_objects where tenant_id = $1', [purgeTenant])).rows[0].n);
  const storedBefore = await pool.query<{ v: string }>(
    `select (coalesce(sum(coalesce(pg_column_size(content_text), 0) + coalesce(pg_column_size(content_html), 0) + coalesce(pg_column_size(headers), 0)), 0)
            + coalesce((select sum(pg_column_size(content)) from blobs where tenant_id = $1), 0))::text as v
       from content_objects where tenant_id = $1`,
    [purgeTenant],
  );
  const objects = await count();

  // Readers run through the expiry and the purge; done = the first poll (every 50 ms) that sees
  // none left. Bounded: gives up after max(120 s, 50 ms an object).
  const during = new FixedRateLoad(o.readerRate, 64, reader);
  const waitFrom = performance.now();
  await sleep(Math.max(0, expiresPerf - performance.now()));
  let firstSeen = NaN;
  let done = NaN;
  let left = objects;
  const give = performance.now() + Math.max(120_000, objects * 50);
  const activity = new ActivitySampler(pool);
  activity.start();
  const service = new ServiceMetricsSampler(ctx.metricsUrl);
  await service.start();
  while (performance.now() < give) {
    left = await count();
    const now = performance.now();
    if (left < objects && Number.isNaN(firstSeen)) firstSeen = now;
    if (left === 0) {
      done = now;
      break;
    }
    await sleep(50);
  }
  const activityReport = activity.stop() + '\n' + service.stop();
  await sleep(1000); // the readers a second after the purge, for comparison
  await during.stop();
  const end = Number.isNaN(done) ? performance.now() : done;
  const waiting = during.window(waitFrom, expiresPerf);
  const inPurge = during.window(expiresPerf, end);
  const after = during.window(end, end + 1000);
  const seconds = (end - expiresPerf) / 1000;
  const events = await pool.query<{ n: string }>(`select count(*)::text as n from outbox_events where tenant_id = $1 and event_type ilike '%deleted%'`, [purgeTenant]);
  const rows: (string | number)[][] = [
    ['readers alone, before the load', without.n, without.errors, ms(without.p50), ms(without.p99), ms(without.max)],
    ['readers alone, after the load (until the expiry)', waiting.n, waiting.errors, ms(waiting.p50), ms(waiting.p99), ms(waiting.max)],
    [`readers during the purge (expiry → none left)`, inPurge.n, inPurge.errors, ms(inPurge.p50), ms(inPurge.p99), ms(inPurge.max)],
    ['readers in the second after', after.n, after.errors, ms(after.p50), ms(after.p99), ms(after.max)],
  ];
  const stored = Number(storedBefore.rows[0].v);
  const summary = Number.isNaN(done)
    ? `purge did not finish within the bound: ${left} of ${objects} objects left after ${seconds.toFixed(1)} s (is the sweeper running? RETENTION_SWEEP_MS=200 was set)`
    : `purged ${objects} objects (${attachments} attachments) in ${seconds.toFixed(2)} s from the expiry instant (first deletion seen after ${((firstSeen - expiresPerf) / 1000).toFixed(2)} s): ` +
      `${Math.round(objects / seconds)} objects/s, ${mbs(rawBytes, seconds)} MB/s raw (${bytes(rawBytes)}), ${mbs(stored, seconds)} MB/s stored (${bytes(stored)}); ` +
      `ContentDeleted events in the outbox: ${events.rows[0].n}`;
  return (
    `4. Purge, ${variant}: the service's retention sweeper (RETENTION_SWEEP_MS=200, its default batch) deleting ${objects} expired objects of one tenant; ` +
    `readers: GetContent at ${o.readerRate}/s (open loop, latency from the due time) on other live objects, same process\n` +
    summary +
    '\n' +
    table(['GetContent readers', 'calls', 'errors', 'p50 ms', 'p99 ms', 'max ms'], rows) +
    '\n' +
    activityReport
  );
}

if (require.main === module) {
  runContent(contentOptions(parseArgs(process.argv.slice(2))))
    .then(() => process.exit(0))
    .catch((err) => {
      process.stderr.write(`bench:content failed: ${(err as Error).stack ?? err}\n`);
      process.exit(1);
    });
}
