#!/usr/bin/env node
// `npm run fuzz`: the long hostile-input campaign. Runs the fuzz.test.ts of every service through
// the usual launcher (same set-up as `npm test`) with FUZZ_RUNS inputs per RPC (default 2000:
// 55 RPCs -> 110 000 inputs), then prints the figures of all four services together.
// FUZZ_SEED picks the seed (printed; failures print the FUZZ_REPLAY to rerun one input).
// Dependency-free, like scripts/platform.mjs.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const results = path.join(ROOT, '.fuzz-results');
fs.rmSync(results, { recursive: true, force: true });
const env = {
  ...process.env,
  FUZZ_RUNS: process.env.FUZZ_RUNS ?? '2000',
  FUZZ_SEED: process.env.FUZZ_SEED ?? String(Date.now() % 2 ** 31),
  FUZZ_RESULTS_DIR: results,
};
const services = ['metadata', 'content', 'queue', 'analytics'];
console.log(`fuzz campaign: seed ${env.FUZZ_SEED}, ${env.FUZZ_RUNS} inputs per RPC`);
const started = Date.now();
const run = spawnSync(process.execPath, [path.join(ROOT, 'scripts', 'platform.mjs'), 'test', ...services, '--', '--testPathPatterns=fuzz\\.test'], {
  cwd: ROOT,
  env,
  stdio: 'inherit',
});

const rows = [];
for (const s of services) {
  const file = path.join(results, `${s}.json`);
  if (!fs.existsSync(file)) {
    rows.push({ service: s, missing: true });
    continue;
  }
  const r = JSON.parse(fs.readFileSync(file, 'utf8'));
  for (const m of r.methods) rows.push({ service: s, ...m });
}
const codes = [...new Set(rows.flatMap((r) => Object.keys(r.codes ?? {})))].sort();
const head = ['service', 'method', 'inputs', 'max ms', 'hangs', 'crashes', 'bad', ...codes];
const line = (r) =>
  r.missing
    ? [r.service, '(no figures: the test process died or did not run)', '', '', '', '', '', ...codes.map(() => '')]
    : [r.service, r.method, r.inputs, Math.round(r.maxMs), r.hangs, r.crashes, r.bad, ...codes.map((c) => r.codes[c] ?? 0)].map(String);
const table = rows.map(line);
const sum = (f) => rows.filter((r) => !r.missing).reduce((a, r) => a + f(r), 0);
const internal = sum((r) => (r.codes.INTERNAL ?? 0) + (r.codes.UNKNOWN ?? 0));
table.push(['TOTAL', '', sum((r) => r.inputs), Math.round(Math.max(0, ...rows.filter((r) => !r.missing).map((r) => r.maxMs))), sum((r) => r.hangs), sum((r) => r.crashes), sum((r) => r.bad), ...codes.map((c) => sum((r) => r.codes[c] ?? 0))].map(String));
const widths = head.map((h, i) => Math.max(h.length, ...table.map((l) => l[i].length)));
const fmt = (cells) => cells.map((c, i) => (i < 2 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  ');
console.log('\n' + fmt(head));
for (const l of table) console.log(fmt(l));
const missing = rows.filter((r) => r.missing).map((r) => r.service);
console.log(
  `\nfuzz campaign: ${sum((r) => r.inputs)} inputs in ${Math.round((Date.now() - started) / 1000)} s; ` +
    `process exits ${missing.length}${missing.length ? ` (${missing.join(', ')})` : ''}, hangs ${sum((r) => r.hangs)}, INTERNAL/UNKNOWN ${internal}, ` +
    `invariant breaks ${sum((r) => r.bad)}; seed ${env.FUZZ_SEED}`,
);
process.exit(run.status === 0 && missing.length === 0 && sum((r) => r.bad) === 0 ? 0 : 1);
