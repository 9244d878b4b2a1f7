/**
 * What OpenTelemetry tracing costs the metadata service: RecordMessage through a real gRPC
 * client (createServer(deps) in this process, a fresh database, the outbox relay running),
 * closed loop at concurrency 1 and 8, with tracing off (no SDK loaded: the kit's hooks return
 * at once) and on (the SDK, a server span, a transaction span, the outbox row's traceparent,
 * the relay's publish span, batch-exported over OTLP/HTTP protobuf to a local sink that reads
 * and acknowledges every export). Rounds alternate off / on / off / on so that drift of the
 * shared machine falls on both sides; each row is the median of its rounds, and the ratio is
 * taken between figures of the same run.
 *
 *   pnpm --filter @penguinmails/bench exec tsx src/tracing-overhead.ts [--quick] [--seconds 5] [--rounds 2]
 *   npm run bench -- --only tracing
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { randomBytes } from 'node:crypto';
import { jetstreamManager } from '@nats-io/jetstream';
import { metadataV1 } from '@penguinmails/contracts';
import { createPrisma, createServer, MIGRATIONS_DIR } from '@penguinmails/metadata';
import {
  EventNames,
  OutboxRelay,
  PageTokens,
  call,
  connect,
  connectNats,
  createLogger,
  createPgPool,
  ensureStream,
  loadConfig,
  migratePostgres,
  startTracing,
  tracingEnabled,
  tracingSettings,
} from '@penguinmails/service-kit';
import { Metadata } from '@grpc/grpc-js';
import { endRpcSpan, endSpan, runWithSpan, startPublishSpan, startServerSpan, traceLogFields, activeTraceHeaders } from '@penguinmails/service-kit/dist/tracing';
import { assertLocal, createBenchDatabase, installInterruptCleanup, onInterrupt } from './lib/pg';
import { intArg, loadAverage, median, ms, parseArgs, percentile, table, type Args } from './lib/report';

export interface TracingOptions {
  /** Seconds per (mode, concurrency, round). */
  seconds: number;
  /** Rounds of each mode (off and on alternate). */
  rounds: number;
  concurrency: number[];
}

export function tracingOptions(args: Args): TracingOptions {
  const quick = args.flags.has('quick');
  return {
    seconds: intArg(args, 'seconds', quick ? 2 : 4, 1, 600),
    rounds: intArg(args, 'rounds', quick ? 1 : 3, 1, 20),
    concurrency: [1, 8],
  };
}

const log = (s: string) => process.stdout.write(s + '\n');

/**
 * The kit's tracing hooks on one RecordMessage's path with tracing off (server span, log
 * fields, handler scope, transaction check, outbox row, relay publish, span ends), timed in a
 * tight loop: nanoseconds per call, independent of the machine's load, next to an empty loop.
 */
function offHookNanos(iterations = 2_000_000): { hooks: number; empty: number } {
  const md = new Metadata();
  const headers = { set: () => undefined };
  let sink = 0;
  const fn = () => 1;
  const time = (body: () => void) => {
    const t = process.hrtime.bigint();
    for (let i = 0; i < iterations; i++) body();
    return Number(process.hrtime.bigint() - t) / iterations;
  };
  const hooks = () => {
    const span = startServerSpan('/penguinmails.metadata.v1.MetadataService/RecordMessage', md, 'req');
    sink += traceLogFields(span) ? 1 : 0;
    sink += runWithSpan(span, fn);
    sink += tracingEnabled() ? 1 : 0; // withTransaction
    sink += activeTraceHeaders() ? 1 : 0; // outboxInsert
    sink += tracingEnabled() ? 1 : 0; // the relay's select
    const pub = startPublishSpan('pm.metadata.t.message_recorded', 'id', { traceparent: null }, headers);
    endSpan(pub);
    endRpcSpan(span, 0);
  };
  const empty = () => {
    sink += fn();
  };
  time(hooks);
  time(empty); // warm both
  const r = { hooks: time(hooks), empty: time(empty) };
  if (sink < 0) log(String(sink));
  return r;
}

interface Sample {
  mode: 'off' | 'on';
  concurrency: number;
  rate: number;
  p50: number;
  p99: number;
  calls: number;
  errors: number;
}

/** An OTLP/HTTP sink: reads each export request whole and answers 200, counting spans' bytes. */
async function startSink(): Promise<{ url: string; requests: () => number; bytes: () => number; close(): Promise<void> }> {
  let requests = 0;
  let bytes = 0;
  const server = http.createServer((req, res) => {
    req.on('data', (c: Buffer) => (bytes += c.length));
    req.on('end', () => {
      requests++;
      res.writeHead(200, { 'content-type': 'application/x-protobuf' }).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    requests: () => requests,
    bytes: () => bytes,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

export async function runTracing(opts: TracingOptions): Promise<string> {
  installInterruptCleanup();
  log(`\n=== tracing overhead: metadata RecordMessage with OpenTelemetry off vs on ===`);
  log(`load average at start: ${loadAverage()}`);
  const natsUrl = process.env.NATS_URL ?? 'nats://127.0.0.1:4222';
  assertLocal(natsUrl, 'NATS_URL');
  const sdkLoadedAtStart = Object.keys(require.cache).some((k) => k.includes('@opentelemetry/sdk-trace'));
  const hookNs = offHookNanos();

  const db = await createBenchDatabase('pm_bench_tracing');
  const id = randomBytes(4).toString('hex');
  const names = new EventNames(`b${id}`, `B${id.toUpperCase()}`);
  const logger = createLogger({ service: 'metadata-bench', level: 'warn' });
  await migratePostgres({ databaseUrl: db.url, migrationsDir: MIGRATIONS_DIR });
  const nc = await connectNats({ url: natsUrl, name: `bench-${id}`, logger });
  const cleanupStreams = async () => {
    const jsm = await jetstreamManager(nc);
    for await (const name of jsm.streams.names()) if (name.startsWith(`B${id.toUpperCase()}_`)) await jsm.streams.delete(name).catch(() => undefined);
  };
  const unregister = onInterrupt(cleanupStreams);
  await ensureStream(nc, { name: names.stream('metadata'), subjects: [names.tierSubjects('metadata')], duplicateWindowMs: 120_000 });
  const sink = await startSink();

  const pool = createPgPool(db.url, { max: 10, logger });
  const prisma = createPrisma(pool);
  const relay = new OutboxRelay({ pool, nc, logger });
  const server = createServer({
    pool,
    prisma,
    logger,
    names,
    pageTokens: new PageTokens(randomBytes(16).toString('hex')),
    limits: { pageSizeDefault: 50, pageSizeMax: 500, importLeadsMax: 5000, batchRecordMax: 1000 },
    grpc: { authTokens: [] },
  });
  // The caller is the same untraced client in both modes: what is measured is the service.
  let client: metadataV1.MetadataServiceClient | undefined;
  let sdkLoadedBeforeOn = false;
  try {
    const port = await server.listen('127.0.0.1', 0);
    relay.start();
    client = connect(metadataV1.MetadataServiceClient, `127.0.0.1:${port}`);
    const c = client;
    const rpc = <M extends keyof metadataV1.MetadataServiceClient>(method: M, req: unknown) => call(c, method, req as never);
    const tenantId = ((await rpc('createTenant', metadataV1.CreateTenantRequest.fromPartial({ name: 'Tracing bench' }))) as metadataV1.CreateTenantResponse).tenant!.id;
    const mailboxId = (
      (await rpc('createEmailAccount', metadataV1.CreateEmailAccountRequest.fromPartial({ tenantId, email: 'sender@bench.example.com', provider: metadataV1.EmailProvider.EMAIL_PROVIDER_GOOGLE }))) as metadataV1.CreateEmailAccountResponse
    ).emailAccount!.id;
    const record = (key: string) =>
      rpc(
        'recordMessage',
        metadataV1.RecordMessageRequest.fromPartial({
          tenantId,
          message: {
            emailAccountId: mailboxId,
            direction: metadataV1.Direction.DIRECTION_OUTBOUND,
            fromEmail: 'sender@bench.example.com',
            toEmail: 'lead@prospect.example.com',
            subject: 'Quick question',
            contentStorageKey: `${tenantId}/messages/${key}.eml`,
            clientKey: key,
          },
        }),
      );
    // Warm-up: JIT, pool connections, the stream.
    for (let i = 0; i < 200; i++) await record(`warm-${i}`);

    const samples: Sample[] = [];
    const loop = async (mode: 'off' | 'on', concurrency: number, round: number) => {
      const latencies: number[] = [];
      let next = 0;
      let errors = 0;
      const started = performance.now();
      const deadline = started + opts.seconds * 1000;
      await Promise.all(
        Array.from({ length: concurrency }, async () => {
          while (performance.now() < deadline) {
            const n = next++;
            const s = performance.now();
            try {
              await record(`${mode}-${round}-${concurrency}-${n}`);
              latencies.push(performance.now() - s);
            } catch {
              errors++;
            }
          }
        }),
      );
      const seconds = (performance.now() - started) / 1000;
      samples.push({ mode, concurrency, rate: latencies.length / seconds, p50: percentile(latencies, 50), p99: percentile(latencies, 99), calls: latencies.length, errors });
    };

    for (let round = 1; round <= opts.rounds; round++) {
      for (const mode of ['off', 'on'] as const) {
        let tracing: ReturnType<typeof startTracing>;
        if (mode === 'on') {
          sdkLoadedBeforeOn ||= round === 1 && Object.keys(require.cache).some((k) => k.includes('@opentelemetry/sdk-trace'));
          tracing = startTracing(
            loadConfig(tracingSettings('metadata'), { OTEL_TRACES_EXPORTER: 'otlp', OTEL_EXPORTER_OTLP_ENDPOINT: sink.url, OTEL_EXPORTER_OTLP_PROTOCOL: 'http/protobuf' }),
            logger,
          );
        }
        if (tracingEnabled() !== (mode === 'on')) throw new Error(`tracing should be ${mode}`);
        for (const conc of opts.concurrency) await loop(mode, conc, round);
        await tracing?.shutdown();
        log(`  round ${round} ${mode} done`);
      }
    }
    const exported = { requests: sink.requests(), bytes: sink.bytes() };
    const report = render(opts, samples, exported, !sdkLoadedAtStart && !sdkLoadedBeforeOn, hookNs);
    log('\n' + report);
    return report;
  } finally {
    client?.close();
    await server.shutdown(2000).catch(() => undefined);
    await relay.stop().catch(() => undefined);
    await sink.close();
    await cleanupStreams().catch(() => undefined);
    unregister();
    await nc.drain().catch(() => undefined);
    await prisma.$disconnect().catch(() => undefined);
    await pool.end().catch(() => undefined);
    await db.drop();
    log(`database ${db.name} dropped, streams ${names.stream('metadata')} deleted`);
  }
}

function render(opts: TracingOptions, samples: Sample[], exported: { requests: number; bytes: number }, noSdkWhenOff: boolean, hookNs: { hooks: number; empty: number }): string {
  const now = new Date().toISOString().replace('T', ' ').slice(0, 16) + ' UTC';
  const out: string[] = [];
  out.push(
    `Tracing overhead, ${now}: metadata RecordMessage over gRPC, closed loop ${opts.seconds} s per row and round, ${opts.rounds} round(s) per mode (off/on alternating, medians shown); server, client, relay and OTLP sink in one Node process`,
  );
  out.push('');
  const rows: (string | number)[][] = [];
  for (const conc of opts.concurrency) {
    const of = (mode: 'off' | 'on') => samples.filter((s) => s.mode === mode && s.concurrency === conc);
    const off = of('off');
    const on = of('on');
    const agg = (list: Sample[]) => ({
      rate: median(list.map((s) => s.rate)),
      p50: median(list.map((s) => s.p50)),
      p99: median(list.map((s) => s.p99)),
      calls: list.reduce((a, s) => a + s.calls, 0),
      errors: list.reduce((a, s) => a + s.errors, 0),
    });
    const a = agg(off);
    const b = agg(on);
    rows.push([
      conc,
      Math.round(a.rate),
      ms(a.p50),
      ms(a.p99),
      Math.round(b.rate),
      ms(b.p50),
      ms(b.p99),
      `${(b.rate / a.rate).toFixed(2)}x`,
      `${(b.p50 / a.p50).toFixed(2)}x`,
      a.errors + b.errors,
    ]);
  }
  out.push(table(['concurrency', 'off calls/s', 'off p50 ms', 'off p99 ms', 'on calls/s', 'on p50 ms', 'on p99 ms', 'on/off calls/s', 'on/off p50', 'errors'], rows));
  out.push('');
  const offP50 = median(samples.filter((x) => x.mode === 'off' && x.concurrency === opts.concurrency[0]).map((x) => x.p50));
  out.push(
    `Off, the hooks of one RecordMessage's path: ${hookNs.hooks.toFixed(0)} ns per call (an empty loop: ${hookNs.empty.toFixed(1)} ns), ${((hookNs.hooks / 1e6 / offP50) * 100).toFixed(4)}% of the off p50 at concurrency ${opts.concurrency[0]}.`,
  );
  out.push(
    `Off: ${noSdkWhenOff ? 'no @opentelemetry SDK module was loaded before the first "on" round' : 'the SDK was already loaded'}. On: exported ${exported.requests} OTLP requests, ${(exported.bytes / 1024).toFixed(0)} kB.`,
  );
  return out.join('\n');
}

if (require.main === module) {
  runTracing(tracingOptions(parseArgs(process.argv.slice(2))))
    .then(() => process.exit(0))
    .catch((err) => {
      process.stderr.write(`bench tracing failed: ${(err as Error).stack ?? err}\n`);
      process.exit(1);
    });
}
