import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** Where nats-server is looked for: NATS_SERVER_BIN, else the Debian package's path, else PATH. */
function natsServerBin(): string {
  if (process.env.NATS_SERVER_BIN) return process.env.NATS_SERVER_BIN;
  return existsSync('/usr/sbin/nats-server') ? '/usr/sbin/nats-server' : 'nats-server';
}

export interface SpawnedNatsServer {
  /** nats://127.0.0.1:<port> */
  url: string;
  port: number;
  /** JetStream's store directory; kept across stop/start so streams and consumers survive. */
  storeDir: string;
  /** Kills the process (SIGKILL: a crash, no graceful shutdown) and waits for it to exit. */
  kill(): Promise<void>;
  /** Starts it again on the same port and store directory; resolves once it accepts connections. */
  start(): Promise<void>;
  /** Kills it and removes the store directory if this helper created it. */
  cleanup(): Promise<void>;
}

/**
 * A private nats-server with JetStream, as a child process of the test, for tests that take
 * the broker down (the shared one on 4222 must never be stopped). `kill()` then `start()`
 * restarts it on the same port and store directory, as a crashed and restarted server would be.
 */
export async function spawnNatsServer(opts: { port?: number; storeDir?: string } = {}): Promise<SpawnedNatsServer> {
  // Without opts.port the server picks one (`-p -1`, RANDOM_PORT) and its log says which: a port
  // chosen here first could be taken by another jest worker before the server bound it. A
  // restart binds that same port again.
  let port = opts.port ?? -1;
  const ownDir = !opts.storeDir;
  const storeDir = opts.storeDir ?? mkdtempSync(join(tmpdir(), 'pm-nats-'));
  let child: ChildProcess | undefined;
  let exited: Promise<void> = Promise.resolve();

  const start = async (): Promise<void> => {
    if (child) throw new Error(`nats-server on port ${port} is already running`);
    const proc = spawn(natsServerBin(), ['-a', '127.0.0.1', '-p', String(port), '-js', '-sd', storeDir], { stdio: ['ignore', 'ignore', 'pipe'] });
    child = proc;
    exited = new Promise((resolve) => proc.once('exit', () => resolve()));
    let log = '';
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`nats-server on port ${port} did not start within 10 s:\n${log}`)), 10_000);
      proc.stderr!.on('data', (chunk: Buffer) => {
        log += chunk.toString();
        if (port === -1) {
          const listening = /Listening for client connections on [^\s]*:(\d+)/.exec(log);
          if (listening) port = Number(listening[1]);
        }
        if (log.includes('Server is ready')) {
          clearTimeout(timer);
          if (port === -1) return reject(new Error(`nats-server did not say which port it listens on:\n${log}`));
          resolve();
        }
      });
      proc.once('error', (err) => {
        clearTimeout(timer);
        reject(err);
      });
      proc.once('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`nats-server on port ${port} exited with ${code} before it was ready:\n${log}`));
      });
    });
    // Keep draining its log so a full pipe never blocks it.
    proc.stderr!.resume();
  };

  const kill = async (): Promise<void> => {
    if (!child) return;
    child.kill('SIGKILL');
    await exited;
    child = undefined;
  };

  await start();
  return {
    get url() {
      return `nats://127.0.0.1:${port}`;
    },
    get port() {
      return port;
    },
    storeDir,
    kill,
    start,
    cleanup: async () => {
      await kill();
      if (ownDir) rmSync(storeDir, { recursive: true, force: true });
    },
  };
}
