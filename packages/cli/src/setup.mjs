// Install and build: the part of every command that needs only Node and npm.
// pnpm is not assumed to be installed; `npx --yes pnpm@<pinned>` fetches the exact version that
// package.json's "packageManager" names (newer pnpm releases can refuse the frozen lockfile).
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { UserError } from './errors.mjs';
import { say } from './log.mjs';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
export const DATA_DIR = path.join(ROOT, '.data');
/** Where `npm start` publishes the running services' addresses (see stack-file.mjs). */
export const STACK_FILE = path.join(DATA_DIR, 'stack.json');

function pinnedPnpm() {
  const pkg = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8'));
  const match = /^pnpm@([^+]+)/.exec(pkg.packageManager ?? '');
  return `pnpm@${match ? match[1] : '12.4.2'}`;
}

/**
 * Env for every build/test child. Prisma's CLI downloads a native schema engine on first use
 * unless PRISMA_SCHEMA_ENGINE_BINARY points at a file; `prisma generate` does not use the engine,
 * so any existing file will do (the node binary is one that always exists).
 */
export function toolEnv(extra = {}) {
  return {
    ...process.env,
    PRISMA_SCHEMA_ENGINE_BINARY: process.env.PRISMA_SCHEMA_ENGINE_BINARY || process.execPath,
    TURBO_TELEMETRY_DISABLED: '1',
    ...extra,
  };
}

/** The foreground tools running now, so main.mjs can pass a SIGTERM on to them. */
export const activeChildren = new Set();

/** Runs `pnpm <args>` with inherited output; resolves with the exit code. */
export function runPnpm(args, { env = toolEnv(), cwd = ROOT } = {}) {
  return new Promise((resolve, reject) => {
    // npx is a .cmd script on Windows, which only a shell can run.
    const child = spawn('npx', ['--yes', pinnedPnpm(), ...args], { cwd, env, stdio: 'inherit', shell: process.platform === 'win32' });
    activeChildren.add(child);
    child.on('error', (err) => {
      activeChildren.delete(child);
      reject(new UserError(`could not run npx (is npm on PATH?): ${err.message}`));
    });
    child.on('exit', (code, signal) => {
      activeChildren.delete(child);
      resolve(code ?? (signal ? 1 : 0));
    });
  });
}

/**
 * pnpm rewrites node_modules/.modules.yaml on every install, so a lockfile newer than it means
 * someone changed dependencies (a pull, a `pnpm add`) since the last install.
 */
function installNeeded() {
  const marker = path.join(ROOT, 'node_modules', '.modules.yaml');
  const lock = path.join(ROOT, 'pnpm-lock.yaml');
  if (!fs.existsSync(marker)) return true;
  if (!fs.existsSync(lock)) return false;
  return fs.statSync(marker).mtimeMs < fs.statSync(lock).mtimeMs;
}

/** PM_SKIP_BUILD=1: use what is installed and built already (a quicker restart). */
const skipBuild = () => ['1', 'true', 'yes'].includes((process.env.PM_SKIP_BUILD ?? '').toLowerCase());

export async function install() {
  if (skipBuild() || !installNeeded()) return;
  const args = ['install'];
  // CI must install exactly what the lockfile says and fail if it is out of date.
  if (process.env.CI && process.env.CI !== 'false') args.push('--frozen-lockfile');
  say(`installing dependencies (${pinnedPnpm()} ${args.join(' ')})`);
  const code = await runPnpm(args);
  if (code !== 0) throw new UserError(`pnpm ${args.join(' ')} failed (exit ${code}); see its output above`);
  // A no-op install may leave the marker's time alone; touch it so the next run skips install.
  const marker = path.join(ROOT, 'node_modules', '.modules.yaml');
  if (fs.existsSync(marker)) fs.utimesSync(marker, new Date(), new Date());
}

/** `turbo run <task> ...` through pnpm, so the repo's pinned turbo is used. */
export function turbo(task, extraArgs = [], env = toolEnv()) {
  return runPnpm(['exec', 'turbo', 'run', task, ...extraArgs], { env });
}

/** generate -> build for every package (turbo.json orders them and caches the results). */
export async function build({ continueOnError = false } = {}) {
  if (skipBuild()) return 0;
  say('building (turbo run build: generate, then build)');
  const code = await turbo('build', continueOnError ? ['--continue'] : []);
  if (code !== 0 && !continueOnError) throw new UserError(`the build failed (turbo exit ${code}); see its output above`);
  return code;
}
