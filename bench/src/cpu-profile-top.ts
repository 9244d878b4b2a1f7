/**
 * Prints the top entries of a V8 CPU profile (`node --cpu-prof`, e.g. from `--cpu-prof DIR` of
 * bench:content or bench:queue-peers) by self time, grouped by function and file, and by file
 * (package) as well: which code the process spent its time in.
 *
 *   npx tsx src/cpu-profile-top.ts <file.cpuprofile> [--top 25]
 */
import { readFileSync } from 'node:fs';
import { intArg, parseArgs, table } from './lib/report';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}
interface Profile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

/** Self time per node id, µs. */
function selfTimes(p: Profile): Map<number, number> {
  const out = new Map<number, number>();
  p.samples.forEach((id, i) => out.set(id, (out.get(id) ?? 0) + (p.timeDeltas[i] ?? 0)));
  return out;
}

/** Shortens a file URL to what identifies it: the package and path after node_modules, or the workspace path. */
function where(url: string): string {
  if (!url) return '(native)';
  const nm = url.lastIndexOf('node_modules/');
  if (nm >= 0) return url.slice(nm + 'node_modules/'.length).replace(/^\.pnpm\/[^/]+\/node_modules\//, '');
  const ws = url.search(/\/(services|packages)\//);
  return ws >= 0 ? url.slice(ws + 1) : url.replace(/^file:\/\//, '');
}

export function topOfProfile(file: string, top = 25): string {
  const p = JSON.parse(readFileSync(file, 'utf8')) as Profile;
  const self = selfTimes(p);
  const total = [...self.values()].reduce((a, b) => a + b, 0);
  const byFn = new Map<string, number>();
  const byFile = new Map<string, number>();
  for (const n of p.nodes) {
    const us = self.get(n.id) ?? 0;
    if (!us) continue;
    const f = where(n.callFrame.url);
    const key = `${n.callFrame.functionName || '(anonymous)'}  ${f}${n.callFrame.url ? `:${n.callFrame.lineNumber + 1}` : ''}`;
    byFn.set(key, (byFn.get(key) ?? 0) + us);
    const pkg = n.callFrame.url ? f.split('/').slice(0, f.startsWith('@') ? 2 : 1).join('/') : f;
    byFile.set(pkg, (byFile.get(pkg) ?? 0) + us);
  }
  const rows = (m: Map<string, number>) =>
    [...m.entries()]
      .sort((a, b) => b[1] - a[1])
      .slice(0, top)
      .map(([k, us]) => [k, (us / 1000).toFixed(0), `${((100 * us) / total).toFixed(1)} %`]);
  return (
    `${file}: ${(total / 1e6).toFixed(1)} s of samples\n` +
    table(['function (self time)', 'ms', 'share'], rows(byFn)) +
    '\n' +
    table(['package / folder (self time)', 'ms', 'share'], rows(byFile))
  );
}

if (require.main === module) {
  const args = parseArgs(process.argv.slice(2));
  const file = process.argv.slice(2).find((a) => !a.startsWith('--') && a.endsWith('.cpuprofile'));
  if (!file) throw new Error('usage: tsx src/cpu-profile-top.ts <file.cpuprofile> [--top 25]');
  process.stdout.write(topOfProfile(file, intArg(args, 'top', 25, 1, 1000)) + '\n');
}
