import type { Store } from './client';

/** What is stored already for one key (tenant_id, campaign_id, event_id) of email_events. */
export interface StoredCopy {
  /** highest detail_rank of the stored copies */
  rank: number;
  /** whether a stored copy knows the bounce is soft */
  soft: boolean;
  /** `occurred_at` of the copy the rollups counted (counted = 1), ClickHouse text */
  occurredAt: string;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** `tenant/campaign/event` → what is stored. */
export const copyKey = (tenantId: string, campaignId: string, eventId: string) => `${tenantId}/${campaignId}/${eventId}`;

/**
 * Which of these keys email_events already holds: the lookup that lets the writer insert each
 * event once (src/domain/events.ts), so the rollups can count rows instead of keeping id sets.
 * Written by hand because it is on the ingest hot path: a tuple IN on the full sorting key
 * reads only the granules of those keys (measured: ~11 ms min, 55 ms p50 on a loaded 2-core box,
 * for 1,000 keys in a 1M-event table on chDB). The ids are validated UUIDs (checked again here)
 * and spliced as literals: a parameter of type Array(Tuple(UUID, UUID, UUID)) is not bound
 * alike by every client version.
 */
/** Keys per lookup query: ~40 bytes of SQL each, well under the max_query_size set below. */
const CHUNK = 5_000;

export async function selectStoredCopies(store: Store, keys: { tenantId: string; campaignId: string; eventId: string }[]): Promise<Map<string, StoredCopy>> {
  const out = new Map<string, StoredCopy>();
  for (let i = 0; i < keys.length; i += CHUNK) await lookup(store, keys.slice(i, i + CHUNK), out);
  return out;
}

/**
 * `(tenant_id, campaign_id) in pairs and event_id in ids`: a cross product of the two lists,
 * much shorter SQL than one tuple per key (a batch has few tenants × campaigns); rows of keys
 * not asked for are ignored by the caller's exact-key lookup.
 */
async function lookup(store: Store, keys: { tenantId: string; campaignId: string; eventId: string }[], out: Map<string, StoredCopy>): Promise<void> {
  if (keys.length === 0) return;
  const pairs = new Set<string>();
  const ids = new Set<string>();
  for (const k of keys) {
    for (const id of [k.tenantId, k.campaignId, k.eventId]) if (!UUID.test(id)) throw new Error(`not a UUID: ${JSON.stringify(id)}`);
    pairs.add(`('${k.tenantId}', '${k.campaignId}')`);
    ids.add(`'${k.eventId}'`);
  }
  const rows = await (
    await store.client.query({
      query: `select toString(tenant_id) as t, toString(campaign_id) as c, toString(event_id) as e, max(detail_rank) as rank,
                     max(bounce_type = 'soft') as soft, toString(anyIf(occurred_at, counted = 1)) as at
              from ${store.table('email_events')}
              where (tenant_id, campaign_id) in (${[...pairs].join(', ')}) and event_id in (${[...ids].join(', ')})
              group by tenant_id, campaign_id, event_id`,
      format: 'JSONCompactEachRow',
      // The default (256 KiB) is below a coalesced batch's id list; a server takes it per
      // request, chDB as a SET.
      clickhouse_settings: { max_query_size: '4194304' },
    })
  ).json<[string, string, string, number | string, number | string, string]>();
  for (const [t, c, e, rank, soft, at] of rows) out.set(copyKey(t, c, e), { rank: Number(rank), soft: Number(soft) === 1, occurredAt: at });
}
