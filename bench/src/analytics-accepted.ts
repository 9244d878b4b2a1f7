/**
 * `cd bench && npx tsx src/analytics-accepted.ts [--events 200000] [--inflight 4] [--batch 1000] [--rounds 2]`
 *
 * IngestEvents through gRPC with durability STORED (the call waits for its insert) against
 * ACCEPTED (the call waits for JetStream; the tier's consumer stores the batches, up to
 * ANALYTICS_ACCEPTED_MAX_BATCH calls per writer call), the same events (analytics-olap's data
 * set, a new tenant each time) and the same callers: --inflight calls of --batch events in
 * flight. For ACCEPTED two figures: the rate of the answers, and the rate until the last event
 * is stored (what a caller that needs the counts soon gets). The gRPC server, chDB, the consumer
 * and the callers share this process; NATS at NATS_URL (default 127.0.0.1:4222). Rounds
 * alternate STORED and ACCEPTED. Printed, never asserted.
 */
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { jetstreamManager } from '@nats-io/jetstream';
import { analyticsV1 } from '@penguinmails/contracts';
import { EventNames, call, connect, connectNats, createLogger } from '@penguinmails/service-kit';
import { generate } from './analytics-olap';
import { intArg, parseArgs, table } from './lib/report';

const ANALYTICS = join(__dirname, '..', '..', 'services', 'analytics', 'src');
// The analytics service is not a dependency of bench (it would pull chDB into every bench
// install): its sources are loaded from the workspace at run time, as analytics-olap does.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const load = (m: string) => require(join(ANALYTICS, m));

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  const n = intArg(args, 'events', 200_000, 1_000, 5_000_000);
  const inflight = intArg(args, 'inflight', 4, 1, 64);
  const batch = intArg(args, 'batch', 1000, 1, 1000);
  const rounds = intArg(args, 'rounds', 2, 1, 10);
  const acceptedMax = intArg(args, 'accepted-max-batch', 50, 1, 1000);
  const { createStore } = load('db/client');
  const { migrateClickHouse } = load('db/migrate');
  const { createServer } = load('server');
  const accepted = load('consumers/accepted-ingest');
  const logger = createLogger({ service: 'bench-accepted', level: 'silent' });

  const chdbDir = mkdtempSync(join(tmpdir(), 'pm-bench-accepted-'));
  const store = createStore({ kind: 'chdb', path: chdbDir }, 'bench_accepted');
  await migrateClickHouse({ store });
  const nc = await connectNats({ url: process.env.NATS_URL ?? 'nats://127.0.0.1:4222', name: 'bench-accepted', logger });
  const tag = randomUUID().slice(0, 8);
  const names = new EventNames(`pmbench${tag}`, `PMBENCH_${tag}`);
  const limits = { maxBatch: 1000, maxFutureMs: 300_000 };
  await accepted.declareAcceptedIngest(nc, names, { EVENTS_DUPLICATE_WINDOW_MS: 60_000 }, { maxBatch: acceptedMax });
  const consumer = accepted.createAcceptedIngestConsumer({ nc, names, store, logger, limits, maxBatch: acceptedMax, maxWaitMs: 1000 });
  await consumer.start();
  const server = createServer({ store, logger, limits, accepted: new accepted.JetStreamAcceptedPublisher(nc, names), acceptedConsumer: consumer });
  const port: number = await server.listen('127.0.0.1', 0);
  const client = connect(analyticsV1.AnalyticsServiceClient, `127.0.0.1:${port}`);
  const w = generate(n);
  // Net rows (a replaced copy is a cancelled pair): the same however the batches were grouped.
  const stored = async (tenantId: string) =>
    Number(
      ((await (await store.client.query({ query: `select sum(sign) as n from ${store.table('events')} where tenant_id = {t:UUID}`, query_params: { t: tenantId }, format: 'JSONEachRow' })).json()) as { n: string }[])[0].n,
    );

  console.log(`analytics-accepted: ${n.toLocaleString()} events, ${inflight} calls of ${batch} in flight, ${rounds} rounds, ANALYTICS_ACCEPTED_MAX_BATCH ${acceptedMax}`);
  const rows: string[][] = [];
  const rates: Record<string, number[]> = { stored: [], answers: [], allStored: [] };
  try {
    for (let r = 1; r <= rounds; r++) {
      for (const mode of ['stored', 'accepted'] as const) {
        const tenantId = randomUUID();
        const batches: analyticsV1.EmailEvent[][] = [];
        for (let i = 0; i < w.events.length; i += batch) batches.push(w.events.slice(i, i + batch));
        const durability = mode === 'stored' ? analyticsV1.IngestDurability.INGEST_DURABILITY_STORED : analyticsV1.IngestDurability.INGEST_DURABILITY_ACCEPTED;
        let next = 0;
        const t0 = performance.now();
        const cpu0 = process.cpuUsage();
        await Promise.all(
          Array.from({ length: inflight }, async () => {
            while (next < batches.length) await call(client, 'ingestEvents', { tenantId, events: batches[next++], durability }, { deadlineMs: 60_000 });
          }),
        );
        const answered = (performance.now() - t0) / 1000;
        if (mode === 'stored') {
          // The rows a batch makes (fact ids, unique opens) as the writer keys them: what ACCEPTED waits for.
          lastStoredRows = await stored(tenantId);
          const cpu = process.cpuUsage(cpu0);
          rates.stored.push(n / answered);
          rows.push([String(r), 'STORED', (n / answered).toFixed(0), '-', ((cpu.user + cpu.system) / n).toFixed(1), String(lastStoredRows)]);
        } else {
          for (;;) {
            if ((await stored(tenantId)) >= lastStoredRows) break;
            await new Promise((res) => setTimeout(res, 20));
          }
          const all = (performance.now() - t0) / 1000;
          const cpu = process.cpuUsage(cpu0);
          rates.answers.push(n / answered);
          rates.allStored.push(n / all);
          rows.push([String(r), 'ACCEPTED', (n / answered).toFixed(0), (n / all).toFixed(0), ((cpu.user + cpu.system) / n).toFixed(1), String(await stored(tenantId))]);
        }
      }
    }
  } finally {
    client.close();
    await server.shutdown(1000);
    await consumer.stop();
    await jetstreamManager(nc).then((m) => m.streams.delete(names.stream('analytics'))).catch(() => undefined);
    await jetstreamManager(nc).then((m) => m.streams.delete(names.deadLetterStream())).catch(() => undefined);
    await nc.drain();
    await store.close();
    rmSync(chdbDir, { recursive: true, force: true });
  }
  console.log(table(['round', 'durability', 'answers, events/s', 'all stored, events/s', 'process CPU µs/event', 'net rows stored'], rows));
  const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
  console.log(
    `ACCEPTED vs STORED (means over ${rounds} rounds, same process, same events, same callers): answers ${(mean(rates.answers) / mean(rates.stored)).toFixed(2)}x, ` +
      `until all stored ${(mean(rates.allStored) / mean(rates.stored)).toFixed(2)}x`,
  );
}

let lastStoredRows = 0;

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
