import { callSettings } from './call-settings';
import type { Store } from './client';

/**
 * The newest occurred_at stored for a tenant, or undefined when it has none. No FINAL: a
 * duplicate has the same time, so max() is the same with or without it, and the primary key's
 * tenant prefix keeps this to the tenant's slice. Read as epoch milliseconds, the one form
 * servers and chDB print alike.
 */
export async function queryNewestEvent(store: Store, tenantId: string): Promise<Date | undefined> {
  const rows = await (
    await store.client.query({
      query: `select count() as n, toUnixTimestamp64Milli(max(occurred_at)) as ms from ${store.table('events')} where tenant_id = {tenant:UUID}`,
      query_params: { tenant: tenantId },
      format: 'JSONEachRow',
      ...callSettings(),
    })
  ).json<{ n: number | string; ms: number | string }>();
  return Number(rows[0]?.n ?? 0) > 0 ? new Date(Number(rows[0].ms)) : undefined;
}
