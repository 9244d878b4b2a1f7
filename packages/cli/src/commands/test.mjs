// `npm test`: set-up, then every package's jest through turbo, then one summary whose last line
// is `N passed, N failed, N skipped` (CI reads it). Extra args narrow the run:
// `npm test -- metadata` runs @penguinmails/metadata only (any turbo --filter works too).
import fs from 'node:fs';
import path from 'node:path';
import { asError } from '../errors.mjs';
import { sayError, warn, say } from '../log.mjs';
import { install, build, turbo, toolEnv, ROOT } from '../setup.mjs';
import { resolveInfra } from '../infra.mjs';
import { readResults, summarise, printSummary } from '../results.mjs';

const RESULTS_DIR = path.join(ROOT, '.test-results');
const RUNS_DIR = path.join(ROOT, '.turbo', 'runs');

/** `metadata` -> `--filter=@penguinmails/metadata`; anything starting with `-` passes through. */
export function filterArgs(args) {
  return args.map((arg) => {
    if (arg.startsWith('-')) return arg;
    const name = arg.includes('/') || arg.includes('...') || arg.startsWith('@') || arg.startsWith('.') ? arg : `@penguinmails/${arg}`;
    return `--filter=${name}`;
  });
}

/**
 * turbo --summarize writes .turbo/runs/<id>.json with each task's exit code; the newest file
 * written since `since` is this run's. Returns package -> exit code of its real `test` task
 * (null when it did not run), or null when no summary was written.
 */
function testTaskExits(since) {
  if (!fs.existsSync(RUNS_DIR)) return null;
  const newest = fs.readdirSync(RUNS_DIR)
    .filter((f) => f.endsWith('.json'))
    .map((f) => ({ file: path.join(RUNS_DIR, f), mtime: fs.statSync(path.join(RUNS_DIR, f)).mtimeMs }))
    .filter((f) => f.mtime >= since)
    .sort((a, b) => b.mtime - a.mtime)[0];
  if (!newest) return null;
  const summary = JSON.parse(fs.readFileSync(newest.file, 'utf8'));
  const exits = new Map();
  for (const task of summary.tasks ?? []) {
    if (task.task !== 'test' || task.command === '<NONEXISTENT>') continue;
    exits.set(task.package, task.execution?.exitCode ?? null);
  }
  return exits;
}

/** The summary line for a run that could not get as far as the tests. */
function setupFailed(message) {
  sayError(message);
  printSummary({ rows: [{ package: 'set-up', passed: 0, failed: 1, skipped: 0, note: 'see the error above' }], total: { passed: 0, failed: 1, skipped: 0 } });
  return 1;
}

export async function test(args) {
  let infra;
  try {
    await install();
    infra = await resolveInfra(); // before the build: a bad URL should not wait for it
    // A package that does not build fails its own tests (turbo skips them and we count that);
    // the others still run, so one broken package does not hide the rest.
    const buildCode = await build({ continueOnError: true });
    if (buildCode !== 0) warn(`the build failed (turbo exit ${buildCode}); running the tests of what did build`);
  } catch (thrown) {
    const err = asError(thrown);
    if (err.name !== 'UserError') throw err;
    return setupFailed(err.message);
  }

  fs.rmSync(RESULTS_DIR, { recursive: true, force: true });
  fs.mkdirSync(RESULTS_DIR, { recursive: true });
  say(`running the tests (postgres: ${infra.postgres.origin}; nats: ${infra.nats.origin})`);
  const since = Date.now() - 1000;
  const turboArgs = ['--concurrency=2', '--continue', '--summarize', ...filterArgs(args)];
  const code = await turbo('test', turboArgs, toolEnv({
    PG_ADMIN_URL: infra.postgres.adminUrl,
    NATS_URL: infra.nats.url,
    JEST_WORKERS: '2',
    PM_TEST_RESULTS_DIR: RESULTS_DIR,
  }));

  let exits = testTaskExits(since);
  if (!exits) {
    // No turbo summary (turbo itself failed early): count the run as one failure.
    exits = new Map(code === 0 ? [] : [['turbo', code]]);
  }
  const summary = summarise(readResults(RESULTS_DIR), exits);
  printSummary(summary);
  return summary.ok ? 0 : 1;
}
