/**
 * bench:analytics-batcher — single events (one open or click per tracking request) into the
 * analytics service (services/analytics/dist, the testkit's startPlatform: its own chDB folder
 * and JetStream names), alternated in one invocation:
 *
 *   one call per event   IngestEvents of 1 event, --concurrency calls at once (STORED)
 *   accepted, per event  the same with durability ACCEPTED (JetStream; the tier's consumer inserts)
 *   the SDK's batcher    pm.eventBatcher(): track() per event, --concurrency awaited at once,
 *                        IngestEvents of up to 1000 (STORED)
 *
 * Each row runs on a platform of its own (a fresh chDB folder, warmed up untimed), sends
 * --events events of one tenant and is timed until every call or track has
 * resolved (for ACCEPTED: until GetFreshness shows none pending and the campaign counts them).
 * Printed: events/s, IngestEvents calls, CPU per event by process (lib/cpu-split.ts). Nothing
 * is asserted.
 *
 *   npx tsx src/analytics-batcher.ts [--events 5000] [--concurrency 50] [--rounds 2]
 */
import { randomUUID } from 'node:crypto';
import os from 'node:os';
import { analyticsV1 } from '@penguinmails/contracts';
import { createEventBatcher, createPlatform } from '@penguinmails/sdk';
import { startPlatform } from '@penguinmails/testkit';
import { cpuBetween, cpuSnapshot } from './lib/cpu-split';
import { installInterruptCleanup, onInterrupt } from './lib/pg';
import { intArg, loadAverage, parseArgs, table, utcMinute } from './lib/report';

const log = (s: string) => process.stdout.write(s + '\n');
const MODES = ['one call per event', 'accepted, per event', "the SDK's batcher"] as const;
type Mode = (typeof MODES)[number];

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  const events = intArg(args, 'events', 5_000, 100, 1_000_000);
  const concurrency = intArg(args, 'concurrency', 50, 1, 10_000);
  const rounds = intArg(args, 'rounds', 2, 1, 20);
  installInterruptCleanup();
  log(`analytics-batcher: ${events} events per row, ${concurrency} at once, ${rounds} rounds; load ${loadAverage()}`);
  const rows: { mode: Mode; round: number; seconds: number; calls: number; cpu: Map<string, number> }[] = [];
  const tenantId = randomUUID();
  const event = (campaignId: string) => ({
    eventId: randomUUID(),
    eventType: analyticsV1.EmailEventType.EMAIL_EVENT_TYPE_OPENED,
    occurredAt: new Date(),
    campaignId,
    emailAccountId: randomUUID(),
    sequenceStepId: randomUUID(),
    leadId: randomUUID(),
  });
  /** Runs `one(i)` for i < events, `concurrency` at once. */
  const spread = async (one: (i: number) => Promise<unknown>) => {
    let next = 0;
    await Promise.all(
      Array.from({ length: concurrency }, async () => {
        while (next < events) await one(next++);
      }),
    );
  };
  /**
   * One row on a platform of its own (a fresh chDB folder): a mode that writes many small parts
   * leaves ClickHouse merging them for a while, and that CPU must not land on the next row.
   */
  const run = async (mode: Mode) => {
    const platform = await startPlatform({ services: ['analytics'] });
    const unregister = onInterrupt(() => platform.stop());
    const pm = createPlatform({ addresses: platform.addresses }, { env: {} });
    try {
      const opened = async (campaignId: string) => Number((await pm.analytics.getCampaignMetrics({ tenantId, campaignId })).report!.totals!.opened);
      // Warm-up, untimed: the first calls of both processes (JIT, the first parts).
      const warm = createEventBatcher(pm.analytics);
      await Promise.all(Array.from({ length: 200 }, () => warm.track(tenantId, event(randomUUID()))));
      await Promise.all(Array.from({ length: 20 }, () => pm.analytics.ingestEvents({ tenantId, events: [event(randomUUID())] })));
      const campaignId = randomUUID();
      let calls = 0;
      const ingest = (req: Parameters<typeof pm.analytics.ingestEvents>[0]) => ((calls += 1), pm.analytics.ingestEvents(req));
      const pid = platform.services.analytics.process?.pid;
      const cpu0 = cpuSnapshot(pid);
      const t0 = performance.now();
      if (mode === "the SDK's batcher") {
        const batcher = createEventBatcher({ ingestEvents: ingest as typeof pm.analytics.ingestEvents });
        await spread(() => batcher.track(tenantId, event(campaignId)));
        await batcher.close();
      } else {
        const durability = mode === 'one call per event' ? analyticsV1.IngestDurability.INGEST_DURABILITY_STORED : analyticsV1.IngestDurability.INGEST_DURABILITY_ACCEPTED;
        await spread(() => ingest({ tenantId, events: [event(campaignId)], durability }));
        // ACCEPTED answers before the insert: the row ends when the tier has stored them all.
        while (mode === 'accepted, per event' && (await opened(campaignId)) < events) await new Promise((r) => setTimeout(r, 20));
      }
      const seconds = (performance.now() - t0) / 1000;
      const cpu = cpuBetween(cpu0, cpuSnapshot(pid));
      const got = await opened(campaignId);
      if (got !== events) throw new Error(`${mode}: ${got} of ${events} events counted`);
      return { seconds, calls, cpu };
    } finally {
      pm.close();
      await platform.stop();
      unregister();
    }
  };
  for (let round = 1; round <= rounds; round++)
    for (let k = 0; k < MODES.length; k++) {
      const mode = MODES[(k + round - 1) % MODES.length];
      rows.push({ mode, round, ...(await run(mode)) });
    }
  const groups = ['service', 'nats', 'bench'];
  const base = (round: number) => rows.find((r) => r.mode === 'one call per event' && r.round === round)!;
  log(
    '\n' +
      `Single events into analytics, ${utcMinute()} UTC: ${events} events per row, ${concurrency} at once, ${os.availableParallelism()} cores, load ${loadAverage()}\n\n` +
      table(
        ['mode', 'round', 'events/s', 'vs one call per event (same round)', 'IngestEvents calls', ...groups.map((g) => `${g} µs/event`)],
        rows.map((r) => [
          r.mode,
          r.round,
          (events / r.seconds).toFixed(0),
          r.mode === 'one call per event' ? '' : `${(base(r.round).seconds / r.seconds).toFixed(1)}x`,
          r.calls,
          ...groups.map((g) => (((r.cpu.get(g) ?? 0) * 1000) / events).toFixed(1)),
        ]),
      ) +
      '\n(service: the analytics process, chDB inside it)',
  );
}

main()
  .then(() => process.exit(0))
  .catch((e) => {
    console.error(e);
    process.exit(1);
  });
