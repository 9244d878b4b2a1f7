import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { healthCheck, listeningPorts, natsTestContext, type NatsTestContext } from '@penguinmails/testkit';

// Bad input at the process level: METRICS_PORT taken by something else. The service logs one
// line saying so and serves gRPC anyway (the kit's unit test covers the function; this one the
// real process, as an operator would meet it).

const MAIN = path.join(__dirname, '..', 'dist', 'main.js');
let ctx: NatsTestContext;
let blocker: Server;
let proc: ChildProcess | undefined;
const folder = mkdtempSync(path.join(tmpdir(), 'pm-analytics-metrics-port-'));

beforeAll(async () => {
  ctx = await natsTestContext();
  blocker = createServer();
  await new Promise<void>((r) => blocker.listen(0, '127.0.0.1', () => r()));
});
afterAll(async () => {
  if (proc && proc.exitCode === null && proc.signalCode === null) {
    proc.kill('SIGTERM');
    await new Promise((r) => proc!.once('exit', r));
  }
  blocker?.close();
  await ctx?.cleanup();
  rmSync(folder, { recursive: true, force: true });
});

(existsSync(MAIN) ? it : it.skip)('a METRICS_PORT in use: one clear log line, and the service serves', async () => {
  const metricsPort = (blocker.address() as { port: number }).port;
  proc = spawn(process.execPath, [MAIN], {
    env: {
      ...process.env,
      CHDB_PATH: path.join(folder, 'chdb'),
      GRPC_HOST: '127.0.0.1',
      GRPC_PORT: '0', // the OS picks it (read from the ready line)
      METRICS_PORT: String(metricsPort),
      NATS_URL: ctx.url,
      EVENTS_SUBJECT_PREFIX: ctx.subjectPrefix,
      EVENTS_STREAM_PREFIX: ctx.streamPrefix,
      LOG_LEVEL: 'info',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  proc.stdout!.on('data', (b) => (output += b));
  proc.stderr!.on('data', (b) => (output += b));
  const bound = await listeningPorts(proc);
  expect(bound.metrics).toBeUndefined(); // its ready line: no /metrics
  const grpcPort = bound.grpc;
  let state = '';
  for (let i = 0; i < 300 && state !== 'SERVING'; i++) {
    if (proc.exitCode !== null) throw new Error(`the service exited (${proc.exitCode}):\n${output}`);
    state = await healthCheck(`127.0.0.1:${grpcPort}`).catch(() => '');
    if (state !== 'SERVING') await new Promise((r) => setTimeout(r, 100));
  }
  expect(state).toBe('SERVING');
  // The metrics listener fails on its own schedule and its log line crosses a pipe: it may come
  // after the health check answers (a fresh-clone CI run saw SERVING first). Wait for it, bounded.
  for (let i = 0; i < 50 && !output.includes('METRICS_PORT'); i++) await new Promise((r) => setTimeout(r, 100));
  const lines = output.split('\n').filter((l) => l.includes('METRICS_PORT'));
  expect(lines).toHaveLength(1);
  expect(lines[0]).toContain(`METRICS_PORT ${metricsPort} is in use; serving without /metrics`);
}, 60_000);
