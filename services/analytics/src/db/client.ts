import { join, resolve } from 'node:path';
import { mkdirSync, readdirSync, rmSync } from 'node:fs';
import { ClickHouseLogLevel, createClient, type ClickHouseClient, type ClickHouseClientConfigOptions } from '@clickhouse/client';
import { UnavailableError } from '@penguinmails/service-kit';
import { IDENTIFIER } from '../config';
import { INGEST_DIR, INSERT_BODY_PREFIX } from './insert-events';

/** Where the data lives: a ClickHouse server, or chDB in this process. */
export type StoreTarget =
  | {
      kind: 'server';
      url: string;
      username: string;
      password: string;
      requestTimeoutMs?: number;
      /**
       * CLICKHOUSE_CLUSTER is set: the service's tables are Distributed (src/db/cluster-ddl.ts).
       * Inserts into them are then synchronous (`insert_distributed_sync = 1`): an insert returns
       * once every shard has its rows, so a consumer acks only events the shards store, not ones
       * queued on the receiving node's disk (ClickHouse's default, lost with that node). And
       * `distributed_product_mode = 'global'`: an `IN (select ... from <Distributed>)` inside a
       * query on a Distributed table (migration backfills write such filters) is run once and
       * its result sent to every shard, instead of being refused (ClickHouse's default, 'deny').
       */
      distributed?: boolean;
    }
  | { kind: 'chdb'; path: string };

/**
 * The ClickHouse client and the database every statement names explicitly.
 *
 * Every statement spells `<database>.<table>` instead of relying on a current database: chDB's
 * connection ignores @clickhouse/client's `database` option (it has no HTTP URL to put it in)
 * and `USE` does not outlive one HTTP request on a server, so qualified names are the only
 * form that means the same thing on both.
 */
export interface Store {
  client: ClickHouseClient;
  /** Validated identifier, e.g. `penguinmails_analytics`. */
  database: string;
  /** `` `database`.`table` `` for SQL. */
  table(name: string): string;
  /**
   * chDB only: the in-process engine's own query call, without @clickhouse/client's
   * HTTP-shaped wrapping (which turns a result into a stream): a query returns bytes
   * (RowBinary). Used where rows are many (src/db/event-keys.ts). Inserts go through a file
   * instead (src/db/insert-events.ts, `chdbPath`).
   */
  native?: ChdbNative;
  /** chDB only: the data folder (absolute); its `ingest/` holds the bodies of inserts in progress (src/db/insert-events.ts). */
  chdbPath?: string;
  close(): Promise<void>;
}

/** The part of chdb's `connection.chdb` extension this service uses. */
export interface ChdbNative {
  queryAsync(sql: string, opts: { format: string }): Promise<{ bytes(): Uint8Array }>;
}

export function createStore(target: StoreTarget, database: string): Store {
  if (!IDENTIFIER.test(database)) throw new Error(`ClickHouse database name "${database}" is not a plain identifier`);
  let client: ClickHouseClient;
  let native: ChdbNative | undefined;
  if (target.kind === 'server') {
    client = createClient({
      url: target.url,
      username: target.username,
      password: target.password,
      request_timeout: target.requestTimeoutMs ?? 30_000,
      // Servers quote 64-bit integers in JSON by default and chDB does not; reading counts with
      // Number() handles both, this keeps the wire form the same anyway.
      clickhouse_settings: {
        output_format_json_quote_64bit_integers: 0,
        ...(target.distributed ? { insert_distributed_sync: 1, distributed_product_mode: 'global' } : {}),
      },
      // Its own logger prints multi-line stack traces to stderr on every failed request; the
      // same errors reach us as rejections, and the service logs them once, with the RPC.
      log: { level: ClickHouseLogLevel.OFF },
    });
  } else {
    const path = resolve(target.path);
    mkdirSync(path, { recursive: true });
    // Loaded only here: chdb is a ~540 MB native library a server deployment never needs.
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const { createChdbConnection } = require('chdb/connection') as typeof import('chdb/connection');
    // chdb types its connection against @clickhouse/client-common, which @clickhouse/client
    // 1.23.1 now bundles as its own copy: same shape, two nominal types, hence the cast.
    let connection: NonNullable<ClickHouseClientConfigOptions['connection']>;
    try {
      connection = createChdbConnection({ path }) as unknown as NonNullable<ClickHouseClientConfigOptions['connection']>;
    } catch (err) {
      // libchdb locks <path>/status: the usual cause is the service (or a migrate run) already
      // holding the folder. libchdb prints its own "Cannot lock file" line to stderr as well.
      throw new UnavailableError(
        `cannot open chDB data folder ${path} (${(err as Error).message}); another process (the running service or a migrate run) probably holds it — stop that process or set CHDB_PATH to another folder`,
        { cause: err },
      );
    }
    client = createClient({ connection });
    native = (connection as unknown as { chdb: ChdbNative }).chdb;
    // After the connection: libchdb now holds the folder's lock, so no other process uses it.
    removeStaleInsertBodies(join(path, INGEST_DIR));
  }
  return {
    client,
    native,
    chdbPath: target.kind === 'chdb' ? resolve(target.path) : undefined,
    database,
    table: (name) => `\`${database}\`.\`${name}\``,
    close: () => client.close(),
  };
}

/**
 * Makes `dir` and removes the insert bodies (src/db/insert-events.ts) that this process did not
 * write: left by a process killed between writing a body and removing it. Whether that insert
 * happened or not, the caller's retry decides from what the tables hold; the file is only
 * garbage. Called once libchdb holds the folder's lock, so no other live process writes here;
 * bodies of this process (tests open several stores on one folder) stay. Names carry a random
 * id of the process, not only its pid: in a container the service is pid 1 at every start.
 */
function removeStaleInsertBodies(dir: string): void {
  mkdirSync(dir, { recursive: true });
  for (const name of readdirSync(dir)) if (!name.startsWith(`${INSERT_BODY_PREFIX}-`)) rmSync(join(dir, name), { force: true });
}

/** Fails with one clear sentence when the store does not answer (used at start-up). */
export async function assertReachable(store: Store, described: string): Promise<void> {
  const ping = await store.client.ping();
  if (!ping.success) {
    const cause = (ping as { error?: Error }).error;
    throw new UnavailableError(
      `ClickHouse at ${described} does not answer (${cause?.message ?? 'no reply'}); start it, fix CLICKHOUSE_URL, or unset CLICKHOUSE_URL to use embedded chDB`,
      { cause },
    );
  }
}
