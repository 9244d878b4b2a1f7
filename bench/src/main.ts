/**
 * `pnpm --filter @penguinmails/bench run bench [--quick] [--rows N] [...]`: both benchmarks,
 * one after the other (each creates and drops its own database; the gRPC one its streams).
 * `--quick` is a ~2-minute sanity run (20k rows, few repetitions); `--only oltp|grpc|legacy|...` runs one.
 */
import { analyticsOptions, runAnalytics } from './analytics-olap';
import { grpcOptions, runGrpc } from './grpc-throughput';
import { oltpOptions, runOltp } from './oltp-refs-vs-emails';
import { runCompression } from './content-compression';
import { contentOptions, runContent } from './content-throughput';
import { legacyOptions, runLegacy } from './legacy-migration';
import { parseArgs } from './lib/report';
import { peersOptions, runPeers } from './queue-peers';
import { runTracing, tracingOptions } from './tracing-overhead';
import { memoryOptions, runMemory } from './memory';
import { replicasOptions, runReplicas } from './replicas';

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  const only = args.values.get('only');
  const benches = ['oltp', 'grpc', 'queue-peers', 'content-compression', 'content', 'analytics', 'tracing', 'replicas', 'memory', 'legacy'];
  if (only !== undefined && !benches.includes(only)) throw new Error(`--only must be one of ${benches.join(', ')}`);
  const reports: string[] = [];
  // legacy (issue 12's migration), memory, replicas, queue-peers, content-compression, content (~10 minutes: the content tier through its
  // process, then 1M-row partition-vs-delete), tracing and analytics (it loads ~1M events into
  // chDB and PostgreSQL) run only when asked for (--only ...).
  if (only === 'legacy') reports.push(await runLegacy(legacyOptions(args)));
  if (only === 'analytics') reports.push(await runAnalytics(analyticsOptions(args)));
  if (only === 'memory') reports.push(await runMemory(memoryOptions(args)));
  if (only === 'replicas') reports.push(await runReplicas(replicasOptions(args)));
  if (only === 'queue-peers') reports.push(await runPeers(peersOptions(args)));
  if (only === 'content') reports.push(await runContent(contentOptions(args)));
  if (only === 'tracing') reports.push(await runTracing(tracingOptions(args)));
  if (only === 'content-compression') reports.push(await runCompression({ bodies: 2000, blobs: 200 }));
  if (only === undefined || only === 'oltp') reports.push(await runOltp(oltpOptions(args)));
  if (only === undefined || only === 'grpc') reports.push(await runGrpc(grpcOptions(args)));
  process.stdout.write('\n=== summary ===\n\n' + reports.join('\n\n') + '\n');
}

main()
  .then(() => process.exit(0))
  .catch((err) => {
    process.stderr.write(`bench failed: ${(err as Error).stack ?? err}\n`);
    process.exit(1);
  });
