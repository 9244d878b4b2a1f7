import { remainingMs } from '@penguinmails/service-kit';

/**
 * Per-query settings that carry the gRPC call's deadline into ClickHouse: the server (or chDB)
 * stops the query itself when the caller has stopped waiting (`max_execution_time`, whole
 * seconds, at least 1), instead of finishing work nobody will read. Outside a call (migrations,
 * the consumer) nothing is added.
 */
export function callSettings(): { clickhouse_settings?: { max_execution_time: number; timeout_overflow_mode: 'throw' } } {
  const left = remainingMs();
  if (left === undefined) return {};
  return { clickhouse_settings: { max_execution_time: Math.max(1, Math.ceil(left / 1000)), timeout_overflow_mode: 'throw' } };
}
