import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { freshDatabase, type FreshDatabase } from './postgres';
import { healthCheck } from './grpc';
import { eachLine, parseListeningLine } from './listening';
import { natsTestContext, type NatsTestContext } from './nats';

export type PlatformService = 'metadata' | 'content' | 'queue' | 'analytics';
export const PLATFORM_SERVICES: readonly PlatformService[] = ['metadata', 'content', 'queue', 'analytics'];

export interface StartPlatformOptions {
  /** Which services to start (default all four). */
  services?: readonly PlatformService[];
  /**
   * The repository whose `services/<name>/dist/main.js` are run. Default: PM_PLATFORM_ROOT, else
   * the repository this testkit is in.
   */
  root?: string;
  /** Env for every service (after the harness's own). */
  env?: NodeJS.ProcessEnv;
  /** Env for one service. */
  serviceEnv?: Partial<Record<PlatformService, NodeJS.ProcessEnv>>;
  /** AUTH_TOKENS of every service (default: auth off). */
  authTokens?: string[];
  /** How long each service may take to report SERVING (default 60 s). */
  readyTimeoutMs?: number;
  /** Also copy each child's output to this process's stderr, prefixed (debugging). */
  echo?: boolean;
  /**
   * The NATS server the services (and this platform's stream clean-up) use, e.g. a
   * `spawnNatsServer()` a fault test kills and restarts. Default NATS_URL, else 127.0.0.1:4222.
   */
  natsUrl?: string;
  /**
   * Admin URL of the PostgreSQL server the fresh databases are created on, e.g. a
   * `spawnPostgres()` a fault test kills and restarts. Default PG_ADMIN_URL, else 127.0.0.1:5432.
   */
  pgAdminUrl?: string;
}

export interface PlatformChild {
  name: PlatformService;
  address: string;
  port: number;
  /** The port of its /metrics when METRICS_PORT is set (0: the OS picks it) and bound, from its ready line. */
  metricsPort?: number;
  /** The service's env (DATABASE_URL, NATS_URL, EVENTS_*_PREFIX, CHDB_PATH, GRPC_PORT, ...). */
  env: NodeJS.ProcessEnv;
  /** Everything the service printed (stdout and stderr, across restarts). */
  output(): string;
  /** The current process, undefined while stopped. */
  process?: ChildProcess;
  /** The last exit: code or signal. */
  lastExit?: { code: number | null; signal: NodeJS.Signals | null };
}

export interface Platform {
  /** `127.0.0.1:<port>` of each started service. */
  addresses: Record<PlatformService, string>;
  /** Per service, the env it runs with. */
  env: Record<PlatformService, NodeJS.ProcessEnv>;
  services: Record<PlatformService, PlatformChild>;
  /** The NATS names of this platform (unique prefixes on the shared server). */
  nats: NatsTestContext;
  /** Everything one service printed so far. */
  output(service: PlatformService): string;
  /** Sends `signal` (default SIGKILL) and resolves when the process has exited. restart() binds the same port again. */
  kill(service: PlatformService, signal?: NodeJS.Signals): Promise<void>;
  /** Stops the service if it runs (SIGTERM), starts it again on the same port and store, and waits for SERVING. */
  restart(service: PlatformService): Promise<void>;
  /** SIGTERM to every service (SIGKILL after 10 s), then drops the databases, streams and chDB folder. */
  stop(): Promise<void>;
}

const DATABASES: Partial<Record<PlatformService, string>> = { metadata: 'metadata', content: 'content', queue: 'queue' };

/** The repository root: the nearest folder up from here with pnpm-workspace.yaml. */
export function repoRoot(from: string = __dirname): string {
  let dir = path.resolve(from);
  for (;;) {
    if (fs.existsSync(path.join(dir, 'pnpm-workspace.yaml'))) return dir;
    const parent = path.dirname(dir);
    if (parent === dir) throw new Error(`no pnpm-workspace.yaml above ${from}`);
    dir = parent;
  }
}

/** A port nothing listens on right now (the OS picks it). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

const MAX_OUTPUT = 2 * 1024 * 1024;

function tail(text: string, lines = 30): string {
  return text.trimEnd().split('\n').slice(-lines).join('\n');
}

/**
 * Starts the platform's services as child processes (their built `dist/main.js`), each on a free
 * port with its own fresh store: a fresh PostgreSQL database cloned from the service's migrated
 * template, unique NATS subject and stream prefixes shared by the four (so they see each other's
 * events and nobody else's), and a temporary chDB folder for analytics. Resolves once every
 * service reports SERVING; rejects (after stopping what started) with the output of a service
 * that exited or stayed unready.
 */
export async function startPlatform(opts: StartPlatformOptions = {}): Promise<Platform> {
  const root = opts.root ?? process.env.PM_PLATFORM_ROOT ?? repoRoot();
  const names = opts.services ?? PLATFORM_SERVICES;
  const readyTimeoutMs = opts.readyTimeoutMs ?? 60_000;
  for (const name of names) {
    const entry = path.join(root, 'services', name, 'dist', 'main.js');
    if (!fs.existsSync(entry)) throw new Error(`${entry} does not exist: build the services first (npm run build)`);
  }

  const nats = await natsTestContext(opts.natsUrl);
  const databases: FreshDatabase[] = [];
  const tempDirs: string[] = [];
  const children = {} as Record<PlatformService, PlatformChild & { buffer: string[]; size: number; exited?: Promise<void>; bound?: number; ready?: boolean }>;

  const cleanupStores = async () => {
    await Promise.all(databases.map((d) => d.drop().catch(() => undefined)));
    await nats.cleanup().catch(() => undefined);
    for (const dir of tempDirs) fs.rmSync(dir, { recursive: true, force: true });
  };

  const launch = (child: (typeof children)[PlatformService]) => {
    child.bound = undefined;
    child.ready = false;
    const proc = spawn(process.execPath, [path.join(root, 'services', child.name, 'dist', 'main.js')], {
      cwd: path.join(root, 'services', child.name),
      env: child.env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child.process = proc;
    const collect = (chunk: Buffer) => {
      const text = chunk.toString('utf8');
      child.buffer.push(text);
      child.size += text.length;
      while (child.size > MAX_OUTPUT && child.buffer.length > 1) child.size -= child.buffer.shift()!.length;
      if (opts.echo) process.stderr.write(text.replace(/^/gm, `[${child.name}] `));
    };
    proc.stdout!.on('data', collect);
    // The ports this process bound, from its "… listening" lines (JSON logs at info).
    eachLine(proc.stdout!, (line) => {
      const l = parseListeningLine(line);
      if (l?.kind === 'grpc') child.bound = l.port;
      else if (l?.kind === 'ready') {
        child.metricsPort = l.metricsPort;
        child.ready = true;
      }
    });
    proc.stderr!.on('data', collect);
    child.exited = new Promise<void>((resolve) => {
      proc.once('exit', (code, signal) => {
        child.lastExit = { code, signal };
        if (child.process === proc) child.process = undefined;
        resolve();
      });
    });
  };

  const exitedBefore = (child: (typeof children)[PlatformService], state: string) =>
    new Error(`${child.name} exited (${child.lastExit?.signal ?? `code ${child.lastExit?.code}`}) before it was ${state}:\n${tail(child.output())}`);

  /**
   * Waits for the current process's "gRPC server listening" line and takes its port as the
   * child's address. Services start on GRPC_PORT=0 (the OS picks the port when the server binds)
   * and a restart binds the same port again, so no other process (a concurrent platform in
   * another jest worker) can take the port between choosing it and binding it, and a health
   * check never reaches someone else's server.
   */
  const waitBound = async (child: (typeof children)[PlatformService], deadline: number) => {
    while (child.bound === undefined) {
      if (!child.process) throw exitedBefore(child, 'listening');
      if (Date.now() > deadline) throw new Error(`${child.name} was not listening within ${readyTimeoutMs} ms:\n${tail(child.output())}`);
      await new Promise((r) => setTimeout(r, 50));
    }
    if (child.port !== child.bound) {
      child.port = child.bound;
      child.address = `127.0.0.1:${child.bound}`;
      child.env.GRPC_PORT = String(child.bound);
    }
  };

  const waitServing = async (child: (typeof children)[PlatformService]) => {
    const deadline = Date.now() + readyTimeoutMs;
    await waitBound(child, deadline);
    for (;;) {
      if (!child.process) throw exitedBefore(child, 'SERVING');
      // SERVING, and its "service ready" line: its consumers and relays have started too.
      const state = await healthCheck(child.address).catch(() => 'DOWN');
      if (state === 'SERVING' && child.ready) return;
      if (Date.now() > deadline) throw new Error(`${child.name} was not SERVING within ${readyTimeoutMs} ms (last: ${state}):\n${tail(child.output())}`);
      await new Promise((r) => setTimeout(r, 150));
    }
  };

  const stopChild = async (child: (typeof children)[PlatformService], signal: NodeJS.Signals = 'SIGTERM', graceMs = 10_000) => {
    const proc = child.process;
    if (!proc) return;
    const exited = child.exited;
    proc.kill(signal);
    const timer = setTimeout(() => proc.kill('SIGKILL'), graceMs);
    await exited;
    clearTimeout(timer);
  };

  try {
    for (const name of names) {
      const env: NodeJS.ProcessEnv = {
        ...process.env,
        NODE_ENV: 'test',
        GRPC_HOST: '127.0.0.1',
        GRPC_PORT: '0',
        NATS_URL: nats.url,
        EVENTS_SUBJECT_PREFIX: nats.subjectPrefix,
        EVENTS_STREAM_PREFIX: nats.streamPrefix,
        // The harness reads each service's port from its "gRPC server listening" line (info).
        LOG_LEVEL: process.env.PM_PLATFORM_LOG_LEVEL ?? 'info',
        LOG_PRETTY: 'false',
        AUTH_TOKENS: (opts.authTokens ?? []).join(','),
        // Tokens the services use to call each other (metadata → content).
        ...(name === 'metadata' && opts.authTokens?.length ? { CONTENT_TOKEN: opts.authTokens[0] } : {}),
      };
      const db = DATABASES[name];
      if (db) {
        const fresh = await freshDatabase({ migrationsDir: path.join(root, 'services', name, 'prisma', 'migrations'), prefix: `pm_plat_${db}`, adminUrl: opts.pgAdminUrl });
        databases.push(fresh);
        env.DATABASE_URL = fresh.url;
      }
      if (name === 'analytics' && !opts.env?.CLICKHOUSE_URL && !opts.serviceEnv?.analytics?.CLICKHOUSE_URL) {
        const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pm-platform-chdb-'));
        tempDirs.push(dir);
        env.CHDB_PATH = dir;
      }
      Object.assign(env, opts.env, opts.serviceEnv?.[name]);
      if (['warn', 'error', 'fatal', 'silent'].includes(String(env.LOG_LEVEL)))
        throw new Error(`startPlatform reads each service's port from its info-level log lines: LOG_LEVEL of ${name} must be info, debug or trace, not ${env.LOG_LEVEL}`);
      const buffer: string[] = [];
      children[name] = {
        name,
        port: 0,
        address: '',
        env,
        buffer,
        size: 0,
        output: () => buffer.join(''),
      } as (typeof children)[PlatformService];
    }
    // Metadata's IngestMessage calls content, so metadata starts once content's port is known.
    const deadline = Date.now() + readyTimeoutMs;
    for (const name of names) if (name !== 'metadata') launch(children[name]);
    const metadata = children.metadata;
    if (metadata) {
      if (children.content && opts.env?.CONTENT_URL === undefined && opts.serviceEnv?.metadata?.CONTENT_URL === undefined) {
        await waitBound(children.content, deadline);
        metadata.env.CONTENT_URL = children.content.address;
      }
      launch(metadata);
    }
    await Promise.all(names.map((n) => waitServing(children[n])));
  } catch (err) {
    await Promise.all(Object.values(children).map((c) => stopChild(c, 'SIGKILL')));
    await cleanupStores();
    throw err;
  }

  const addresses = {} as Record<PlatformService, string>;
  const envs = {} as Record<PlatformService, NodeJS.ProcessEnv>;
  for (const name of names) {
    addresses[name] = children[name].address;
    envs[name] = children[name].env;
  }
  const get = (service: PlatformService) => {
    const child = children[service];
    if (!child) throw new Error(`${service} was not started by this platform (services: ${names.join(', ')})`);
    return child;
  };
  let stopped = false;
  return {
    addresses,
    env: envs,
    services: children,
    nats,
    output: (service) => get(service).output(),
    kill: async (service, signal = 'SIGKILL') => {
      const child = get(service);
      if (!child.process) return;
      const exited = child.exited;
      child.process.kill(signal);
      await exited;
    },
    restart: async (service) => {
      const child = get(service);
      await stopChild(child);
      launch(child);
      await waitServing(child);
    },
    stop: async () => {
      if (stopped) return;
      stopped = true;
      await Promise.all(Object.values(children).map((c) => stopChild(c)));
      await cleanupStores();
    },
  };
}
