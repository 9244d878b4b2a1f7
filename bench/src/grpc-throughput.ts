/**
 * RecordMessage and ListMessages through a real gRPC client against the metadata service
 * (createServer(deps) in this process, a fresh database, unique JetStream names, the outbox
 * relay running), at concurrency 1/8/32: throughput and p50/p99 latency, each next to a
 * baseline measured in the same run:
 *   - transport floor: grpc.health.v1.Health/Check on the same channel (no database);
 *   - database floor: the service's own SQL for the same rows sent straight through pg
 *     (RecordMessage: the one-row INSERT_MESSAGES without the transaction, reference checks and
 *     outbox row; ListMessages: the same list query).
 *
 *   pnpm --filter @penguinmails/bench run bench:grpc [--quick] [--calls 2000] [--seconds 10]
 */
import { randomBytes } from 'node:crypto';
import { Client as GrpcClient, credentials, type ServiceError } from '@grpc/grpc-js';
import { jetstreamManager } from '@nats-io/jetstream';
import { metadataV1 } from '@penguinmails/contracts';
import { createPrisma, createServer, MIGRATIONS_DIR } from '@penguinmails/metadata';
import { INSERT_MESSAGES } from '@penguinmails/metadata/dist/db/insert-messages';
import { MESSAGE_COLUMNS } from '@penguinmails/metadata/dist/db/rows';
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
  migratePostgres,
} from '@penguinmails/service-kit';
import { assertLocal, createBenchDatabase, installInterruptCleanup, onInterrupt } from './lib/pg';
import { intArg, loadAverage, ms, parseArgs, percentile, table, type Args } from './lib/report';
import { CURSOR_COLUMNS } from './lib/queries';

export interface GrpcOptions {
  /** Calls per (operation, concurrency), at most. */
  calls: number;
  /** And at most this long per (operation, concurrency). */
  seconds: number;
  /** Refs recorded (BatchRecordMessages) before ListMessages is timed. */
  preload: number;
  concurrency: number[];
}

export function grpcOptions(args: Args): GrpcOptions {
  const quick = args.flags.has('quick');
  return {
    calls: intArg(args, 'calls', quick ? 400 : 3000, 10, 1_000_000),
    seconds: intArg(args, 'seconds', quick ? 3 : 10, 1, 600),
    preload: intArg(args, 'preload', quick ? 5_000 : 50_000, 1_000, 1_000_000),
    concurrency: [1, 8, 32],
  };
}

const log = (s: string) => process.stdout.write(s + '\n');

interface Run {
  op: string;
  path: string;
  concurrency: number;
  calls: number;
  errors: number;
  seconds: number;
  latencies: number[];
}

/** Closed loop: `concurrency` workers each issue the next call when the previous returns. */
async function closedLoop(op: string, path: string, concurrency: number, opts: GrpcOptions, fn: (n: number) => Promise<unknown>): Promise<Run> {
  const latencies: number[] = [];
  let next = 0;
  let errors = 0;
  let firstError: unknown;
  const started = performance.now();
  const deadline = started + opts.seconds * 1000;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < opts.calls && performance.now() < deadline) {
        const n = next++;
        const s = performance.now();
        try {
          await fn(n);
          latencies.push(performance.now() - s);
        } catch (err) {
          errors++;
          firstError ??= err;
        }
      }
    }),
  );
  if (errors) log(`  ${op} via ${path} at ${concurrency}: ${errors} errors, first: ${(firstError as Error).message}`);
  return { op, path, concurrency, calls: latencies.length, errors, seconds: (performance.now() - started) / 1000, latencies };
}

export async function runGrpc(opts: GrpcOptions): Promise<string> {
  installInterruptCleanup();
  log(`\n=== gRPC: metadata service RecordMessage / ListMessages ===`);
  log(`load average at start: ${loadAverage()}`);
  const natsUrl = process.env.NATS_URL ?? 'nats://127.0.0.1:4222';
  assertLocal(natsUrl, 'NATS_URL');

  const db = await createBenchDatabase('pm_bench_grpc');
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

  // The service's defaults (DATABASE_POOL_MAX 10, page sizes 50/500).
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
  const basePool = createPgPool(db.url, { max: 10, logger });
  let client: metadataV1.MetadataServiceClient | undefined;
  let health: GrpcClient | undefined;
  try {
    const port = await server.listen('127.0.0.1', 0);
    relay.start();
    const address = `127.0.0.1:${port}`;
    client = connect(metadataV1.MetadataServiceClient, address);
    health = new GrpcClient(address, credentials.createInsecure());
    const c = client;
    const rpc = <M extends keyof metadataV1.MetadataServiceClient>(method: M, req: unknown) => call(c, method, req as never);

    // A tenant with a mailbox, a campaign and a lead, through the API like any caller.
    const tenant = (await rpc('createTenant', metadataV1.CreateTenantRequest.fromPartial({ name: 'Bench tenant' }))) as metadataV1.CreateTenantResponse;
    const tenantId = tenant.tenant!.id;
    const mailbox = (await rpc('createEmailAccount', metadataV1.CreateEmailAccountRequest.fromPartial({ tenantId, email: 'sender@bench.example.com', provider: metadataV1.EmailProvider.EMAIL_PROVIDER_GOOGLE }))) as metadataV1.CreateEmailAccountResponse;
    const mailboxId = mailbox.emailAccount!.id;
    const campaign = (await rpc('createCampaign', metadataV1.CreateCampaignRequest.fromPartial({ tenantId, name: 'Bench campaign' }))) as metadataV1.CreateCampaignResponse;
    const campaignId = campaign.campaign!.id;
    const lead = (await rpc('createLead', metadataV1.CreateLeadRequest.fromPartial({ tenantId, lead: { email: 'lead@prospect.example.com', firstName: 'Lee' } }))) as metadataV1.CreateLeadResponse;
    const leadId = lead.lead!.id;
    const input = (key: string) =>
      metadataV1.MessageInput.fromPartial({
        emailAccountId: mailboxId,
        campaignId,
        leadId,
        direction: metadataV1.Direction.DIRECTION_OUTBOUND,
        fromEmail: 'sender@bench.example.com',
        toEmail: 'lead@prospect.example.com',
        subject: 'Quick question about Prospect Inc',
        contentStorageKey: `${tenantId}/messages/${key}.eml`,
        clientKey: key,
      });

    // Preload through BatchRecordMessages (1000 per call), so ListMessages reads a real index.
    const t0 = performance.now();
    for (let done = 0; done < opts.preload; done += 1000) {
      const n = Math.min(1000, opts.preload - done);
      await rpc('batchRecordMessages', metadataV1.BatchRecordMessagesRequest.fromPartial({ tenantId, messages: Array.from({ length: n }, (_, k) => input(`pre-${done + k}`)) }));
    }
    const preloadSeconds = (performance.now() - t0) / 1000;
    log(`preloaded ${opts.preload} refs with BatchRecordMessages in ${preloadSeconds.toFixed(1)} s (${Math.round(opts.preload / preloadSeconds)} refs/s)`);
    await basePool.query('vacuum (analyze) inbox_message_refs');

    const h = health;
    const healthCheck = () =>
      new Promise<void>((resolve, reject) =>
        h.makeUnaryRequest('/grpc.health.v1.Health/Check', () => Buffer.alloc(0), (b: Buffer) => b, {}, (err: ServiceError | null) => (err ? reject(err) : resolve())),
      );
    const directInsert = (key: string) =>
      basePool.query(INSERT_MESSAGES, [
        tenantId,
        [crypto.randomUUID()],
        [mailboxId],
        [campaignId],
        [leadId],
        [null],
        [null],
        ['outbound'],
        ['email'],
        ['sender@bench.example.com'],
        ['lead@prospect.example.com'],
        ['Quick question about Prospect Inc'],
        ['sent'],
        [`${tenantId}/messages/${key}.eml`],
        [null],
        [key],
        [null],
        ['pending'],
        [null], // created: the database's now, as RecordMessage
        [null], // processed
      ]);
    const listSql = `select ${MESSAGE_COLUMNS}, ${CURSOR_COLUMNS} from inbox_message_refs
      where tenant_id = $1 and email_account_id = $2 order by created desc, id desc limit 51`;

    const runs: Run[] = [];
    let round = 0;
    for (const conc of opts.concurrency) {
      round++;
      runs.push(await closedLoop('transport floor', 'gRPC Health/Check', conc, opts, () => healthCheck()));
      runs.push(await closedLoop('RecordMessage', 'gRPC', conc, opts, (n) => rpc('recordMessage', metadataV1.RecordMessageRequest.fromPartial({ tenantId, message: input(`rec-${round}-${n}`) }))));
      runs.push(await closedLoop('RecordMessage', 'pg direct (INSERT_MESSAGES, 1 row)', conc, opts, (n) => directInsert(`sql-${round}-${n}`)));
      runs.push(await closedLoop('ListMessages', 'gRPC (mailbox, 50)', conc, opts, () => rpc('listMessages', metadataV1.ListMessagesRequest.fromPartial({ tenantId, emailAccountId: mailboxId, page: { pageSize: 50 } }))));
      runs.push(await closedLoop('ListMessages', 'pg direct (same SQL)', conc, opts, () => basePool.query(listSql, [tenantId, mailboxId])));
      log(`  concurrency ${conc} done`);
    }
    const outboxLeft = (await basePool.query<{ n: string }>('select count(*)::text as n from outbox_events where published is null')).rows[0].n;

    const report = render(opts, runs, preloadSeconds, outboxLeft);
    log('\n' + report);
    return report;
  } finally {
    client?.close();
    health?.close();
    await server.shutdown(2000).catch(() => undefined);
    await relay.stop().catch(() => undefined);
    await cleanupStreams().catch(() => undefined);
    unregister();
    await nc.drain().catch(() => undefined);
    await prisma.$disconnect().catch(() => undefined);
    await pool.end().catch(() => undefined);
    await basePool.end().catch(() => undefined);
    await db.drop();
    log(`database ${db.name} dropped, streams ${names.stream('metadata')} deleted`);
  }
}

function render(opts: GrpcOptions, runs: Run[], preloadSeconds: number, outboxLeft: string): string {
  const now = new Date().toISOString().replace('T', ' ').slice(0, 16) + ' UTC';
  const out: string[] = [];
  out.push(`gRPC benchmark, ${now}: closed loop, up to ${opts.calls} calls or ${opts.seconds} s per row; server, client and relay in one Node process; ${opts.preload} refs preloaded`);
  out.push('');
  const rowsOut: (string | number)[][] = [];
  for (const r of runs) {
    const base = runs.find((b) => b.concurrency === r.concurrency && b.op === r.op && b.path !== r.path && r.path.startsWith('gRPC'));
    const rate = r.calls / r.seconds;
    rowsOut.push([
      r.op,
      r.path,
      r.concurrency,
      r.calls,
      Math.round(rate),
      ms(percentile(r.latencies, 50)),
      ms(percentile(r.latencies, 99)),
      base ? `${(rate / (base.calls / base.seconds)).toFixed(2)}x of pg` : '',
      r.errors,
    ]);
  }
  out.push(table(['operation', 'path', 'concurrency', 'calls', 'calls/s', 'p50 ms', 'p99 ms', 'throughput vs baseline', 'errors'], rowsOut));
  out.push('');
  out.push(`BatchRecordMessages preload: ${Math.round(opts.preload / preloadSeconds)} refs/s (1000 per call). Outbox rows not yet published at the end: ${outboxLeft}.`);
  return out.join('\n');
}

if (require.main === module) {
  runGrpc(grpcOptions(parseArgs(process.argv.slice(2))))
    .then(() => process.exit(0))
    .catch((err) => {
      process.stderr.write(`bench:grpc failed: ${(err as Error).stack ?? err}\n`);
      process.exit(1);
    });
}
