import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { jetstreamManager } from '@nats-io/jetstream';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { ConfigError, createLogger, ensureStream, loadConfig, natsSettings, openPostgresTier } from '../src';
import { freePort, freshDatabase } from '../../testkit/src';

// Replicated streams on a real 3-node NATS JetStream cluster: three nats-server processes on
// free ports of this machine, routed to one another (deploy/clusters.md). What runs in
// production on three hosts runs here on one, with the same protocol and the same Raft groups.

const BIN = process.env.NATS_SERVER_BIN ?? (existsSync('/usr/sbin/nats-server') ? '/usr/sbin/nats-server' : 'nats-server');
const dir = mkdtempSync(join(tmpdir(), 'pm-nats-cluster-'));
const nodes: ChildProcess[] = [];
let nc: NatsConnection;

beforeAll(async () => {
  const client = await Promise.all([0, 1, 2].map(() => freePort()));
  const route = await Promise.all([0, 1, 2].map(() => freePort()));
  const routes = route.map((p) => `nats://127.0.0.1:${p}`).join(',');
  await Promise.all(
    [0, 1, 2].map(
      (i) =>
        new Promise<void>((resolve, reject) => {
          const proc = spawn(
            BIN,
            ['-a', '127.0.0.1', '-p', String(client[i]), '-js', '-sd', join(dir, `n${i}`), '-n', `pm-n${i}`, '--cluster_name', 'pm-test', '--cluster', `nats://127.0.0.1:${route[i]}`, '--routes', routes],
            { stdio: ['ignore', 'ignore', 'pipe'] },
          );
          nodes.push(proc);
          let log = '';
          const timer = setTimeout(() => reject(new Error(`nats-server node ${i} not ready in 15 s:\n${log}`)), 15_000);
          proc.stderr!.on('data', (b: Buffer) => {
            log += b.toString();
            if (log.includes('Server is ready')) {
              clearTimeout(timer);
              resolve();
            }
          });
          proc.once('exit', (code) => reject(new Error(`nats-server node ${i} exited (${code}):\n${log}`)));
        }),
    ),
  );
  nc = await connect({ servers: client.map((p) => `nats://127.0.0.1:${p}`) });
  // JetStream answers once the cluster has elected its meta leader.
  for (let i = 0; ; i++) {
    try {
      await (await jetstreamManager(nc, { timeout: 1000 })).getAccountInfo();
      break;
    } catch (err) {
      if (i > 30) throw err;
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}, 30_000);

afterAll(async () => {
  await nc?.close();
  await Promise.all(
    nodes.map(async (p) => {
      if (p.exitCode !== null || p.signalCode !== null) return;
      p.kill('SIGTERM');
      await new Promise((r) => p.once('exit', r));
    }),
  );
  rmSync(dir, { recursive: true, force: true });
});

/** Replica count as configured, and the peers the cluster reports (leader + followers). */
async function replicas(name: string): Promise<{ configured: number; peers: number }> {
  const info = await (await jetstreamManager(nc)).streams.info(name);
  return { configured: info.config.num_replicas, peers: 1 + (info.cluster?.replicas?.length ?? 0) };
}

/** Retries while the cluster places a new stream's Raft group (a fresh cluster may need a moment). */
async function settled<T>(fn: () => Promise<T>): Promise<T> {
  for (let i = 0; ; i++) {
    try {
      return await fn();
    } catch (err) {
      if (i > 50 || !/insufficient resources|no suitable peers|leader/i.test((err as Error).message)) throw err;
      await new Promise((r) => setTimeout(r, 200));
    }
  }
}

test('ensureStream creates an R3 stream on a 3-node cluster, and an update of another limit keeps it R3', async () => {
  await settled(() => ensureStream(nc, { name: 'PM_CLUSTER_A', subjects: ['pmc.a.>'], duplicateWindowMs: 60_000, replicas: 3 }));
  expect(await replicas('PM_CLUSTER_A')).toEqual({ configured: 3, peers: 3 });
  // A tier (or another tier declaring it "if absent") restarts with a new age limit and no
  // replica count: the stream's limit changes, its replicas stay (before the fix: back to R1).
  await ensureStream(nc, { name: 'PM_CLUSTER_A', subjects: ['pmc.a.>'], duplicateWindowMs: 60_000, maxAgeMs: 3_600_000 });
  const info = await (await jetstreamManager(nc)).streams.info('PM_CLUSTER_A');
  expect(info.config.max_age).toBe(3_600_000 * 1_000_000);
  expect(await replicas('PM_CLUSTER_A')).toEqual({ configured: 3, peers: 3 });
}, 30_000);

test('EVENTS_STREAM_REPLICAS raised from 1 to 3 turns an existing R1 stream into R3', async () => {
  await settled(() => ensureStream(nc, { name: 'PM_CLUSTER_B', subjects: ['pmc.b.>'], duplicateWindowMs: 60_000, replicas: 1 }));
  expect((await replicas('PM_CLUSTER_B')).configured).toBe(1);
  const s = loadConfig(natsSettings, { EVENTS_STREAM_REPLICAS: '3' });
  await settled(() => ensureStream(nc, { name: 'PM_CLUSTER_B', subjects: ['pmc.b.>'], duplicateWindowMs: 60_000, replicas: s.EVENTS_STREAM_REPLICAS }));
  expect((await replicas('PM_CLUSTER_B')).configured).toBe(3);
}, 30_000);

test('a PostgreSQL tier declares its own stream with EVENTS_STREAM_REPLICAS replicas', async () => {
  const db = await freshDatabase();
  const url = nc.getServer();
  try {
    const tier = await settled(() =>
      openPostgresTier(
        'queue',
        {
          SERVICE_NAME: 'cluster-test',
          DATABASE_URL: db.url,
          DATABASE_POOL_MAX: 2,
          MIGRATE_ON_START: true,
          NATS_URL: `nats://${url}`,
          EVENTS_SUBJECT_PREFIX: 'pmct',
          EVENTS_STREAM_PREFIX: 'PMCT',
          EVENTS_DUPLICATE_WINDOW_MS: 60_000,
          EVENTS_STREAM_REPLICAS: 3,
        },
        { migrationsDir: join(__dirname, 'fixtures/outbox-migrations'), logger: createLogger({ service: 'test', level: 'silent' }) },
      ),
    );
    try {
      expect(await replicas(tier.names.stream('queue'))).toEqual({ configured: 3, peers: 3 });
    } finally {
      await tier.close();
    }
  } finally {
    await db.drop();
  }
}, 30_000);

test('EVENTS_STREAM_REPLICAS: default 1, and a bad value names the setting', () => {
  expect(loadConfig(natsSettings, {}).EVENTS_STREAM_REPLICAS).toBe(1);
  for (const bad of ['0', '7', 'three']) {
    const err = (() => {
      try {
        loadConfig(natsSettings, { EVENTS_STREAM_REPLICAS: bad });
      } catch (e) {
        return e;
      }
    })();
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as ConfigError).problems.map((p) => p.variable)).toEqual(['EVENTS_STREAM_REPLICAS']);
  }
});
