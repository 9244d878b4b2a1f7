// `npm test`: set-up, the lint (tsc --noEmit + eslint, through turbo), then every package's jest
// through turbo, then one summary whose last line is `N passed, N failed, N skipped` (CI reads
// it); a failed lint is one failed row. Extra args narrow the run:
// `npm test -- metadata` lints and tests @penguinmails/metadata only (any turbo --filter works too);
// after a second `--`, arguments for jest alone (`npm test -- queue -- --testPathPatterns=fuzz`).
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
 * The lint's turbo arguments: the packages' filters only. What follows `--` is for jest
 * (`npm run fuzz` passes `-- --testPathPatterns=fuzz\.test`); turbo hands it to every task's
 * script, and eslint refuses a jest flag (its exit 2 was a failed lint row).
 */
export function lintArgs(args) {
  const end = args.indexOf('--');
  return filterArgs(end === -1 ? args : args.slice(0, end));
}

/** The run summaries (.turbo/runs/<id>.json) there are now. */
function runSummaries() {
  return new Set(fs.existsSync(RUNS_DIR) ? fs.readdirSync(RUNS_DIR).filter((f) => f.endsWith('.json')) : []);
}

/**
 * turbo --summarize writes .turbo/runs/<id>.json with each task's exit code; the newest file
 * not in `before` is this run's. Returns package -> exit code of its real `task` (null when it
 * did not run), or null when no summary was written.
 */
function taskExits(before, taskName) {
  if (!fs.existsSync(RUNS_DIR)) return null;
  const newest = [...runSummaries()]
    .filter((f) => !before.has(f))
    .map((f) => ({ file: path.join(RUNS_DIR, f), mtime: fs.statSync(path.join(RUNS_DIR, f)).mtimeMs }))
    .sort((a, b) => b.mtime - a.mtime)[0];
  if (!newest) return null;
  const summary = JSON.parse(fs.readFileSync(newest.file, 'utf8'));
  const exits = new Map();
  for (const task of summary.tasks ?? []) {
    if (task.task !== taskName || task.command === '<NONEXISTENT>') continue;
    exits.set(task.package, task.execution?.exitCode ?? null);
  }
  return exits;
}

/**
 * `turbo run lint` (each package's tsc --noEmit and eslint; see eslint.config.mjs) over the same
 * packages as the tests. Only a failing package's output is printed. Returns the summary row:
 * one failed row when any package's lint failed, else a row that says it was clean.
 */
export async function lint(args) {
  say('linting (turbo run lint: tsc --noEmit and eslint)');
  const started = Date.now();
  const before = runSummaries();
  const code = await turbo('lint', ['--concurrency=2', '--continue', '--summarize', '--output-logs=errors-only', ...lintArgs(args)]);
  const exits = taskExits(before, 'lint') ?? new Map(code === 0 ? [] : [['turbo', code]]);
  const failed = [...exits].filter(([, c]) => c !== 0).map(([pkg]) => pkg.replace('@penguinmails/', ''));
  const seconds = `${Math.round((Date.now() - started) / 1000)}s`;
  if (failed.length === 0 && code === 0) return { package: 'lint', passed: 0, failed: 0, skipped: 0, note: `clean (${exits.size} packages, ${seconds})` };
  return { package: 'lint', passed: 0, failed: 1, skipped: 0, note: `failed: ${failed.join(', ') || `turbo exit ${code}`} (output above)` };
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

  const lintRow = await lint(args);

  fs.rmSync(RESULTS_DIR, { recursive: true, force: true });
  fs.mkdirSync(RESULTS_DIR, { recursive: true });
  say(`running the tests (postgres: ${infra.postgres.origin}; nats: ${infra.nats.origin})`);
  const before = runSummaries();
  const turboArgs = ['--concurrency=2', '--continue', '--summarize', ...filterArgs(args)];
  const code = await turbo('test', turboArgs, toolEnv({
    PG_ADMIN_URL: infra.postgres.adminUrl,
    NATS_URL: infra.nats.url,
    JEST_WORKERS: '2',
    PM_TEST_RESULTS_DIR: RESULTS_DIR,
  }));

  let exits = taskExits(before, 'test');
  if (!exits) {
    // No turbo summary (turbo itself failed early): count the run as one failure.
    exits = new Map(code === 0 ? [] : [['turbo', code]]);
  }
  const summary = summarise(readResults(RESULTS_DIR), exits, [lintRow]);
  printSummary(summary);
  return summary.ok ? 0 : 1;
}
