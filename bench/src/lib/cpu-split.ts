/**
 * Where a bench phase's CPU went, by process: user + system time from /proc/<pid>/stat (Linux)
 * at the phase's start and end, grouped as
 *
 *   postgres  every process named postgres (the server's backends, WAL writer, checkpointer…),
 *             plus the time of backends that exited during the phase (the postmaster's
 *             cutime/cstime: it reaps them);
 *   bench     this process (the peers pg-boss and graphile-worker run in it, and our workers);
 *   service   the queue service's child process, when the phase has one;
 *   nats      nats-server (our outbox relay publishes to it).
 *
 * Why: on a machine of 2 cores the throughput of a phase is its CPU per job summed over these
 * processes, divided into the cores; the split says which process to work on. A PostgreSQL on
 * another host is not seen (its group stays empty). Not a profiler: other work on the machine
 * during the phase is not told apart, which is why the benches run on a quiet machine.
 */
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';

export type CpuSplit = Map<string, number>;

let ticksPerSecond: number | undefined;
function clockTicks(): number {
  if (ticksPerSecond === undefined) {
    try {
      ticksPerSecond = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
    } catch {
      ticksPerSecond = 100; // Linux's USER_HZ on every architecture Node.js runs on
    }
  }
  return ticksPerSecond;
}

/**
 * One process's name, parent and CPU milliseconds so far (user + system), and those of its
 * children that exited and were reaped by it; undefined when it is gone or /proc is not there.
 */
export function procStat(pid: number | string): { comm: string; ppid: number; ownMs: number; reapedMs: number } | undefined {
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined;
  }
  // "pid (comm) state ppid …": comm may hold spaces and parentheses, so split after the last ')'.
  const comm = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
  // Fields 4 and 14-17 of proc(5): ppid, utime, stime, cutime, cstime (here 1 and 11-14, counted from `state`).
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const msPerTick = 1000 / clockTicks();
  return { comm, ppid: Number(f[1]), ownMs: (Number(f[11]) + Number(f[12])) * msPerTick, reapedMs: (Number(f[13]) + Number(f[14])) * msPerTick };
}

/** CPU milliseconds so far of each group (empty where /proc is not there). */
export function cpuSnapshot(servicePid?: number): CpuSplit {
  const out: CpuSplit = new Map();
  let pids: string[];
  try {
    pids = readdirSync('/proc').filter((d) => /^[0-9]+$/.test(d));
  } catch {
    return out;
  }
  for (const d of pids) {
    const p = procStat(d);
    if (!p) continue; // exited since the listing
    const pid = Number(d);
    const group = pid === process.pid ? 'bench' : pid === servicePid ? 'service' : p.comm === 'postgres' ? 'postgres' : p.comm === 'nats-server' ? 'nats' : undefined;
    if (!group) continue;
    out.set(group, (out.get(group) ?? 0) + p.ownMs + (group === 'postgres' ? p.reapedMs : 0));
  }
  return out;
}

/** CPU milliseconds of each group between two snapshots. */
export function cpuBetween(before: CpuSplit, after: CpuSplit): CpuSplit {
  const out: CpuSplit = new Map();
  for (const [k, v] of after) out.set(k, Math.max(0, v - (before.get(k) ?? 0)));
  return out;
}
