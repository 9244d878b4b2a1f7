/**
 * bench:memory — what each service's process holds in memory, idle and under load, so that the
 * Kubernetes requests and limits (deploy/k8s/*.yaml) come from a measurement, not a guess.
 *
 * Starts the four services (their dist/main.js, the testkit's startPlatform: fresh databases,
 * unique streams, a fresh chDB folder), waits --settle-ms after SERVING and reads each process's
 * resident set (VmRSS of /proc/<pid>/status): "idle". Then runs the SDK's demo flow (tenant,
 * mailboxes, leads, campaign, send jobs through the queue, bodies to content, events to
 * analytics, the metrics read back) --rounds times with --leads leads, sampling RSS every 100 ms:
 * "peak under load" is the largest sample, and VmHWM (the kernel's high-water mark since the
 * process started, including start-up and migrations) is printed beside it.
 * Linux only (/proc). Nothing here is a test: no figure is asserted.
 */
import { readFileSync } from 'node:fs';
import { createPlatform } from '@penguinmails/sdk';
// The demo flow is the CLI's (`npm run demo`), not part of the SDK's public entry.
import { runDemo } from '@penguinmails/sdk/dist/demo';
import { PLATFORM_SERVICES, startPlatform, type PlatformService } from '@penguinmails/testkit';
import { intArg, loadAverage, parseArgs, table, type Args } from './lib/report';

export interface MemoryOptions {
  leads: number;
  rounds: number;
  settleMs: number;
}

export function memoryOptions(args: Args): MemoryOptions {
  const quick = args.flags.has('quick');
  return {
    leads: intArg(args, 'leads', quick ? 100 : 400, 10, 100_000),
    rounds: intArg(args, 'rounds', quick ? 1 : 3, 1, 100),
    settleMs: intArg(args, 'settle-ms', 3000, 0, 600_000),
  };
}

/** VmRSS and VmHWM of a process, in MiB. */
function memoryOf(pid: number): { rss: number; hwm: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (key: string) => Number((new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(status) ?? [])[1] ?? NaN);
  return { rss: kb('VmRSS') / 1024, hwm: kb('VmHWM') / 1024 };
}

const mib = (v: number) => (Number.isFinite(v) ? v.toFixed(0) : '-');

export async function runMemory(o: MemoryOptions): Promise<string> {
  const started = new Date().toISOString();
  process.stdout.write(`memory: demo ${o.rounds} x ${o.leads} leads; load ${loadAverage()}\n`);
  const platform = await startPlatform();
  const pm = createPlatform({ addresses: platform.addresses });
  try {
    const pids = Object.fromEntries(PLATFORM_SERVICES.map((s) => [s, platform.services[s].process!.pid!])) as Record<PlatformService, number>;
    await new Promise((r) => setTimeout(r, o.settleMs));
    const idle = Object.fromEntries(PLATFORM_SERVICES.map((s) => [s, memoryOf(pids[s]).rss])) as Record<PlatformService, number>;
    const peak = { ...idle };
    const timer = setInterval(() => {
      for (const s of PLATFORM_SERVICES) peak[s] = Math.max(peak[s], memoryOf(pids[s]).rss);
    }, 100);
    const t0 = Date.now();
    try {
      for (let r = 0; r < o.rounds; r++) await runDemo(pm, { seed: 42 + r, leads: o.leads, workers: 8, print: () => undefined });
    } finally {
      clearInterval(timer);
    }
    const seconds = (Date.now() - t0) / 1000;
    const after = Object.fromEntries(PLATFORM_SERVICES.map((s) => [s, memoryOf(pids[s])])) as Record<PlatformService, { rss: number; hwm: number }>;
    const rows = PLATFORM_SERVICES.map((s) => [s, mib(idle[s]), mib(peak[s]), mib(after[s].rss), mib(after[s].hwm)]);
    return [
      `memory (${started}; demo ${o.rounds} x ${o.leads} leads in ${seconds.toFixed(1)} s; load after ${loadAverage()}; MiB, RSS of each service's process)`,
      table(['service', 'idle', 'peak under load', 'after load', 'VmHWM'], rows),
    ].join('\n');
  } finally {
    pm.close();
    await platform.stop();
  }
}

if (require.main === module) {
  runMemory(memoryOptions(parseArgs(process.argv.slice(2))))
    .then((report) => {
      process.stdout.write('\n' + report + '\n');
      process.exit(0);
    })
    .catch((err) => {
      process.stderr.write(`bench failed: ${(err as Error).stack ?? err}\n`);
      process.exit(1);
    });
}
