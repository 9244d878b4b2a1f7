import { assertReachable, createStore, type Store } from './db/client';
import { redact } from '@penguinmails/service-kit';
import type { AnalyticsConfig } from './config';

/** The store main.ts and migrate.ts open: a server when CLICKHOUSE_URL is set, else chDB at CHDB_PATH. */
export async function openStore(config: AnalyticsConfig): Promise<{ store: Store; described: string }> {
  const store = config.CLICKHOUSE_URL
    ? createStore(
        {
          kind: 'server',
          url: config.CLICKHOUSE_URL,
          username: config.CLICKHOUSE_USER,
          password: config.CLICKHOUSE_PASSWORD,
          requestTimeoutMs: config.CLICKHOUSE_REQUEST_TIMEOUT_MS,
          distributed: config.CLICKHOUSE_CLUSTER !== undefined,
        },
        config.CLICKHOUSE_DATABASE,
      )
    : createStore({ kind: 'chdb', path: config.CHDB_PATH }, config.CLICKHOUSE_DATABASE);
  const described = config.CLICKHOUSE_URL ? redact(config.CLICKHOUSE_URL) : `chDB ${config.CHDB_PATH}`;
  await assertReachable(store, described);
  return { store, described };
}
