// NATS with JetStream: use NATS_URL, else the server on 127.0.0.1:4222, else start a
// nats-server ourselves (data in .data/nats). No npm package ships nats-server, so the binary
// comes from PATH, or else from Debian's package, unpacked into .data/bin without installing it
// system-wide (apt-get download + dpkg-deb -x need no root).
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { UserError, asError } from './errors.mjs';
import { say, warn } from './log.mjs';
import { firstFreePort, portFromEnv, requireFreePort, parseUrl, tcpGreeting, sleep } from './net.mjs';
import { DATA_DIR } from './setup.mjs';

const LOCAL_URL = 'nats://127.0.0.1:4222';
const HOW_TO_GET = 'no nats-server found: install one (Debian/Ubuntu: apt-get install nats-server; macOS: brew install nats-server) or set NATS_URL to a NATS server with JetStream';

/**
 * A NATS server greets every connection with `INFO {json}`; the JSON says whether JetStream is
 * on. Resolves with that JSON, rejects when nothing (or something else) answers.
 */
async function natsInfo(host, port) {
  const greeting = await tcpGreeting(host, port, 3000);
  const match = /^INFO\s+(\{.*\})/.exec(greeting);
  if (!match) throw new Error(`not a NATS server (it said "${greeting.slice(0, 40).trim()}")`);
  return JSON.parse(match[1]);
}

/** The first server of a (possibly comma-separated) NATS_URL, checked for shape. */
function firstServer(natsUrl) {
  const first = natsUrl.split(',')[0].trim();
  // nats.js accepts bare host:port; give it a scheme so URL can parse it.
  const withScheme = /^[a-z]+:\/\//i.test(first) ? first : `nats://${first}`;
  const url = parseUrl(withScheme, 'NATS_URL', ['nats:', 'tls:']);
  return { host: url.hostname, port: Number(url.port || 4222) };
}

async function checkConfigured(natsUrl) {
  const { host, port } = firstServer(natsUrl);
  let info;
  try {
    info = await natsInfo(host, port);
  } catch (thrown) {
    throw new UserError(`no NATS server answers at ${host}:${port} (check NATS_URL): ${asError(thrown).message}`);
  }
  if (!info.jetstream) throw new UserError(`the NATS server at ${host}:${port} has JetStream off: start it with -js (check NATS_URL)`);
}

/** @returns {Promise<{ url: string, origin: string, dataDir?: string, stop: () => Promise<void>, started?: boolean }>} */
export async function resolveNats({ forceSpawn }) {
  if (process.env.NATS_URL) {
    await checkConfigured(process.env.NATS_URL);
    return { url: process.env.NATS_URL, origin: 'NATS_URL', stop: async () => {} };
  }
  if (!forceSpawn) {
    const info = await natsInfo('127.0.0.1', 4222).catch(() => null);
    if (info?.jetstream) return { url: LOCAL_URL, origin: 'local server on 127.0.0.1:4222', stop: async () => {} };
    if (info) warn('the NATS server on 127.0.0.1:4222 has JetStream off; starting our own');
  }
  return spawnNats();
}

function isExecutable(file) {
  try {
    fs.accessSync(file, fs.constants.X_OK);
    return fs.statSync(file).isFile();
  } catch {
    return false;
  }
}

/** nats-server on PATH, in /usr/sbin (often not on a user's PATH), or unpacked earlier by us. */
export function findNatsServer() {
  const dirs = [...(process.env.PATH ?? '').split(path.delimiter), '/usr/sbin', '/usr/local/sbin'];
  const candidates = dirs.filter(Boolean).map((dir) => path.join(dir, 'nats-server'));
  candidates.push(path.join(DATA_DIR, 'bin', 'nats-server', 'usr', 'sbin', 'nats-server'));
  return candidates.find(isExecutable) ?? null;
}

/**
 * Fetches Debian's nats-server package into .data/bin and unpacks it there. Returns the binary's
 * path, or null where apt-get is not available or the download fails.
 */
export function fetchNatsFromApt() {
  if (spawnSync('apt-get', ['--version'], { stdio: 'ignore' }).status !== 0) return null;
  const binDir = path.join(DATA_DIR, 'bin');
  fs.mkdirSync(binDir, { recursive: true });
  say('nats-server not found; fetching Debian\'s package into .data/bin (not installed system-wide)');
  const download = () => spawnSync('apt-get', ['download', 'nats-server'], { cwd: binDir, stdio: ['ignore', 'ignore', 'pipe'], encoding: 'utf8' });
  let result = download();
  if (result.status !== 0) {
    // The package lists may be missing or stale (fresh containers ship without them).
    spawnSync('apt-get', ['update'], { stdio: 'ignore' });
    result = download();
  }
  const deb = fs.readdirSync(binDir).filter((f) => /^nats-server_.*\.deb$/.test(f)).sort().at(-1);
  if (result.status !== 0 || !deb) {
    warn(`apt-get download nats-server failed: ${(result.stderr ?? '').trim().split('\n').at(-1)}`);
    return null;
  }
  const target = path.join(binDir, 'nats-server');
  const unpack = spawnSync('dpkg-deb', ['-x', path.join(binDir, deb), target], { stdio: ['ignore', 'ignore', 'pipe'], encoding: 'utf8' });
  const binary = path.join(target, 'usr', 'sbin', 'nats-server');
  if (unpack.status !== 0 || !isExecutable(binary)) {
    warn(`could not unpack ${deb}: ${(unpack.stderr ?? '').trim()}`);
    return null;
  }
  return binary;
}

async function spawnNats() {
  const binary = findNatsServer() ?? fetchNatsFromApt();
  if (!binary) throw new UserError(HOW_TO_GET);

  const port = process.env.PM_NATS_PORT
    ? portFromEnv('PM_NATS_PORT', 4222)
    : await firstFreePort(4222, 20, 'nats-server', 'PM_NATS_PORT');
  if (process.env.PM_NATS_PORT) await requireFreePort(port, 'nats-server', 'PM_NATS_PORT');

  const dataDir = path.join(DATA_DIR, 'nats');
  fs.mkdirSync(dataDir, { recursive: true });
  const logFile = path.join(DATA_DIR, 'nats.log');
  say(`starting nats-server with JetStream on 127.0.0.1:${port} (${binary}; log: ${path.relative(process.cwd(), logFile)})`);
  const log = fs.openSync(logFile, 'a');
  // detached + a log file: same reasons as the embedded PostgreSQL (see postgres.mjs).
  const child = spawn(binary, ['-js', '-sd', dataDir, '-a', '127.0.0.1', '-p', String(port)], { detached: true, stdio: ['ignore', log, log] });
  fs.closeSync(log);
  let exited = null;
  child.on('exit', (code, signal) => { exited = { code, signal }; });
  child.on('error', (err) => { exited = { err }; });

  const deadline = Date.now() + 20_000;
  for (;;) {
    const info = await natsInfo('127.0.0.1', port).catch(() => null);
    if (info) break;
    if (exited) throw new UserError(`nats-server exited at start: ${lastLine(logFile) || exited.err?.message || 'see ' + logFile}`);
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new UserError(`nats-server did not answer on port ${port} within 20 s; see ${logFile}`);
    }
    await sleep(200);
  }

  const stop = async () => {
    if (exited) return;
    const gone = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
    await gone;
    clearTimeout(timer);
  };
  return { url: `nats://127.0.0.1:${port}`, origin: `spawned (pid ${child.pid})`, dataDir, stop, started: true };
}

function lastLine(file) {
  try {
    return fs.readFileSync(file, 'utf8').trim().split('\n').filter((l) => /\[(FTL|ERR)\]/.test(l)).at(-1)?.trim() ?? '';
  } catch {
    return '';
  }
}
