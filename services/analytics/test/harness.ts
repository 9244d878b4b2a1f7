import { randomBytes, randomUUID } from 'node:crypto';
import { mkdirSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { analyticsV1 } from '@penguinmails/contracts';
import { connect, createLogger, type GrpcServer, type GrpcServerSettings } from '@penguinmails/service-kit';
import { createStore, type Store } from '../src/db/client';
import { migrateClickHouse } from '../src/db/migrate';
import type { ConsumerStatus } from '../src/domain/freshness';
import { createServer } from '../src/server';

const CHDB_ROOT = join(tmpdir(), 'pm-analytics-chdb');

/**
 * chDB binds one data folder per process, and two processes must never share one: each jest
 * worker (a process) gets a folder named by its pid. Folders of processes that have exited are
 * removed here, so repeated runs do not pile up.
 */
function chdbPathForThisProcess(): string {
  mkdirSync(CHDB_ROOT, { recursive: true });
  for (const name of readdirSync(CHDB_ROOT)) {
    const pid = Number(name);
    if (!Number.isInteger(pid) || pid === process.pid) continue;
    try {
      process.kill(pid, 0);
    } catch {
      rmSync(join(CHDB_ROOT, name), { recursive: true, force: true });
    }
  }
  return join(CHDB_ROOT, String(process.pid));
}

export interface TestStore {
  store: Store;
  drop(): Promise<void>;
}

/**
 * A fresh, migrated ClickHouse database for one test file: `t_<random>` in this worker's chDB
 * folder, or on the server named by CLICKHOUSE_URL when it is set (same SQL either way).
 */
export async function freshStore(opts: { migrate?: boolean; migrationsDir?: string; database?: string } = {}): Promise<TestStore> {
  const database = opts.database ?? `t_${randomBytes(6).toString('hex')}`;
  const store = process.env.CLICKHOUSE_URL
    ? createStore(
        { kind: 'server', url: process.env.CLICKHOUSE_URL, username: process.env.CLICKHOUSE_USER ?? 'default', password: process.env.CLICKHOUSE_PASSWORD ?? '' },
        database,
      )
    : createStore({ kind: 'chdb', path: chdbPathForThisProcess() }, database);
  if (opts.migrate !== false) await migrateClickHouse({ store, migrationsDir: opts.migrationsDir });
  return {
    store,
    drop: async () => {
      await store.client.command({ query: `drop database if exists \`${database}\`` });
      await store.close();
    },
  };
}

export interface TestServer {
  server: GrpcServer;
  /** host:port of the server (for raw clients: health, fuzzing). */
  address: string;
  client: analyticsV1.AnalyticsServiceClient;
  close(): Promise<void>;
}

/** The real gRPC server on a free port, and a real client to it. */
export async function startServer(
  store: Store,
  limits = { maxBatch: 100, maxFutureMs: 5 * 60_000 },
  grpc: GrpcServerSettings = {},
  consumer?: ConsumerStatus,
): Promise<TestServer> {
  const server = createServer({ store, logger: createLogger({ service: 'analytics-test', level: 'silent' }), limits, grpc, consumer });
  const port = await server.listen('127.0.0.1', 0);
  const client = connect(analyticsV1.AnalyticsServiceClient, `127.0.0.1:${port}`);
  return {
    server,
    address: `127.0.0.1:${port}`,
    client,
    close: async () => {
      client.close();
      await server.shutdown(1000);
    },
  };
}

/** Raw rows stored for a tenant, duplicates included (no FINAL): what "nothing written" checks. */
export async function rawRowCount(store: Store, tenantId: string): Promise<number> {
  const rows = await (
    await store.client.query({
      query: `select count() as n from ${store.table('events')} where tenant_id = {t:UUID}`,
      query_params: { t: tenantId },
      format: 'JSONEachRow',
    })
  ).json<{ n: number | string }>();
  return Number(rows[0].n);
}

/** Raw rows of every tenant: "nothing written" for a request whose tenant id was itself refused. */
export async function totalRowCount(store: Store): Promise<number> {
  const rows = await (await store.client.query({ query: `select count() as n from ${store.table('events')}`, format: 'JSONEachRow' })).json<{
    n: number | string;
  }>();
  return Number(rows[0].n);
}

export const uuid = () => randomUUID();

/**
 * Count and hash of every row of every table of the store's database (views excluded), merged
 * with FINAL where the engine replaces or collapses rows, so a background merge does not change
 * it: "a refused call wrote nothing" is digest before == after.
 */
export async function storeDigest(store: Store): Promise<string> {
  const tables = await (
    await store.client.query({
      query: `select name, engine from system.tables where database = {db:String} and engine not like '%View%' order by name`,
      query_params: { db: store.database },
      format: 'JSONEachRow',
    })
  ).json<{ name: string; engine: string }>();
  const out: string[] = [];
  for (const t of tables) {
    const final = /Replacing|Collapsing|Summing|Aggregating/.test(t.engine) ? ' final' : '';
    const rows = await (
      await store.client.query({ query: `select count() as n, toString(sum(cityHash64(*))) as h from ${store.table(t.name)}${final}`, format: 'JSONEachRow' })
    ).json<{ n: number | string; h: string }>();
    out.push(`${t.name}=${rows[0].n}:${rows[0].h}`);
  }
  return out.join(' ');
}
