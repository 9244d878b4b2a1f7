// Sums the per-package jest results that packages/testkit/reporter.js writes into
// $PM_TEST_RESULTS_DIR, and prints the closing `N passed, N failed, N skipped` line CI reads.
import fs from 'node:fs';
import path from 'node:path';
import { printTable } from './log.mjs';

/** Reads every <pkg>.json in `dir`; an unreadable file is reported, not thrown. */
export function readResults(dir) {
  if (!fs.existsSync(dir)) return [];
  return fs.readdirSync(dir).filter((f) => f.endsWith('.json')).sort().map((file) => {
    try {
      const r = JSON.parse(fs.readFileSync(path.join(dir, file), 'utf8'));
      return { package: String(r.package ?? file), passed: +r.passed || 0, failed: +r.failed || 0, skipped: +r.skipped || 0, suitesFailed: +r.suitesFailed || 0 };
    } catch {
      return { package: file, passed: 0, failed: 1, skipped: 0, suitesFailed: 0, note: 'unreadable results file' };
    }
  });
}

/**
 * Joins the results files with what turbo says ran.
 * @param {Array} results from readResults
 * @param {Map<string, number|null>} taskExits package -> exit code of its test task (null: did not run)
 * A package whose task failed without a results file counts as one failure (jest never reported:
 * a build it depends on failed, or jest crashed). One that reported no failures but still exited
 * non-zero (e.g. "no tests found", a jest config error) also counts as one.
 * @param {Array} [checks] rows of checks that are not jest suites (the lint), counted as they are
 */
export function summarise(results, taskExits, checks = []) {
  const rows = results.map((r) => ({ ...r }));
  const byName = new Map(rows.map((r) => [r.package, r]));
  for (const [pkg, code] of taskExits) {
    const row = byName.get(pkg);
    if (!row) {
      if (code === 0) continue; // a "test" script that is not jest: nothing to count
      rows.push({ package: pkg, passed: 0, failed: 1, skipped: 0, suitesFailed: 0, note: code === null ? 'did not run (a dependency failed?)' : `exited ${code} without results` });
    } else if (code && row.failed === 0 && row.suitesFailed === 0) {
      row.failed = 1;
      row.note = `exited ${code} though no test failed`;
    } else if (row.suitesFailed > 0) {
      row.note = `${row.suitesFailed} suite(s) failed`;
    }
  }
  rows.sort((a, b) => a.package.localeCompare(b.package));
  rows.push(...checks.map((r) => ({ ...r })));
  const total = rows.reduce((t, r) => ({ passed: t.passed + r.passed, failed: t.failed + r.failed, skipped: t.skipped + r.skipped }), { passed: 0, failed: 0, skipped: 0 });
  return { rows, total, ok: total.failed === 0 && total.passed > 0 };
}

export function printSummary({ rows, total }) {
  process.stdout.write('\n');
  if (rows.length) {
    printTable([['package', 'passed', 'failed', 'skipped', 'note'], ...rows.map((r) => [r.package, r.passed, r.failed, r.skipped, r.note ?? ''])]);
  }
  if (total.passed === 0 && total.failed === 0) process.stdout.write('no tests ran\n');
  // Must stay the very last line: CI reads it.
  process.stdout.write(`${total.passed} passed, ${total.failed} failed, ${total.skipped} skipped\n`);
}
