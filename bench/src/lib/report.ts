/** Percentile (nearest rank) of a list of numbers. */
export function percentile(values: number[], p: number): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[rank];
}

export const median = (values: number[]): number => percentile(values, 50);

/** A fixed-width text table (also valid Markdown), so it can be pasted into the README. */
export function table(headers: string[], rows: (string | number)[][]): string {
  const cells = rows.map((r) => r.map((c) => String(c)));
  const widths = headers.map((h, i) => Math.max(h.length, ...cells.map((r) => (r[i] ?? '').length)));
  const right = headers.map((_, i) => cells.every((r) => /^[-+\d.,%x× ]*[\d%x×]?$/.test(r[i] ?? '') || r[i] === '-'));
  const fmt = (r: string[]) => '| ' + r.map((c, i) => (right[i] ? c.padStart(widths[i]) : c.padEnd(widths[i]))).join(' | ') + ' |';
  const sep = '|' + widths.map((w, i) => (right[i] ? '-'.repeat(w + 1) + ':' : '-'.repeat(w + 2))).join('|') + '|';
  return [fmt(headers), sep, ...cells.map(fmt)].join('\n');
}

export function ms(v: number): string {
  if (!Number.isFinite(v)) return '-';
  return v >= 100 ? v.toFixed(0) : v >= 10 ? v.toFixed(1) : v.toFixed(2);
}

export function bytes(n: number): string {
  if (n >= 1024 ** 3) return `${(n / 1024 ** 3).toFixed(2)} GB`;
  if (n >= 1024 ** 2) return `${(n / 1024 ** 2).toFixed(1)} MB`;
  if (n >= 1024) return `${(n / 1024).toFixed(0)} kB`;
  return `${n} B`;
}

/** "emails / refs" ratio and how much faster refs is, as the seed states it ("60-80% faster"). */
export function ratio(emails: number, refs: number): { ratio: string; faster: string } {
  if (!(emails > 0) || !(refs > 0)) return { ratio: '-', faster: '-' };
  // "% faster" = time saved relative to the old time: 1 - refs/emails.
  return { ratio: `${(emails / refs).toFixed(2)}x`, faster: `${((1 - refs / emails) * 100).toFixed(0)}%` };
}

export interface Args {
  flags: Set<string>;
  values: Map<string, string>;
}

export function parseArgs(argv: string[]): Args {
  const flags = new Set<string>();
  const values = new Map<string, string>();
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (!a.startsWith('--')) continue;
    const [k, v] = a.slice(2).split('=', 2);
    if (v !== undefined) values.set(k, v);
    else if (i + 1 < argv.length && !argv[i + 1].startsWith('--')) values.set(k, argv[++i]);
    else flags.add(k);
  }
  return { flags, values };
}

export function intArg(args: Args, name: string, def: number, min: number, max: number): number {
  const raw = args.values.get(name);
  if (raw === undefined) return def;
  const n = Number(raw.replace(/_/g, ''));
  if (!Number.isInteger(n) || n < min || n > max) throw new Error(`--${name} must be an integer in [${min}, ${max}], got ${raw}`);
  return n;
}

/** `YYYY-MM-DD HH:MM` (UTC) of `d`: when a run's table was measured. */
export const utcMinute = (d = new Date()): string => d.toISOString().slice(0, 16).replace('T', ' ');

export function loadAverage(): string {
  const os = require('node:os') as typeof import('node:os');
  return os.loadavg().map((x) => x.toFixed(2)).join(' ');
}
