import type { Store } from './client';
import type { EventRow } from './insert-events';

/** What event_keys says about one stored copy (or cancellation) of an event. */
export interface KeyRow {
  tenant_id: string;
  event_id: string;
  campaign_id: string;
  occurred_at: string;
  detail_rank: number;
  sign: number;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/**
 * Written into the SQL text rather than bound as a parameter: chDB parses a bound
 * Array(Tuple(UUID, UUID)) of a few thousand ids ~30% slower than the same literal list, and
 * every id here is a UUID we validated or derived (checked again, so nothing else can get in).
 */
function idTuples(ids: { tenant_id: string; event_id: string }[]): string {
  return ids
    .map(({ tenant_id, event_id }) => {
      if (!UUID.test(tenant_id) || !UUID.test(event_id)) throw new Error(`not a lower-case UUID: ${tenant_id} / ${event_id}`);
      return `('${tenant_id}','${event_id}')`;
    })
    .join(',');
}

/**
 * How many ids one lookup query names, and how many copies one fetch names. ClickHouse refuses
 * SQL longer than `max_query_size` (256 KiB by default, on chDB and on a server): a tuple of two
 * ids is ~80 characters and a copy's condition ~230, so one statement for a whole batch failed
 * past ~3,200 ids, exactly when a consumer batch was redelivered after a crash (every id stored,
 * so every id looked up) and the redelivery then failed every time. Chunks keep each statement
 * near 160 KiB whatever the batch (test/event-writer.test.ts, "batches larger than one statement can name").
 */
export const LOOKUP_CHUNK = 2_000;
export const FETCH_CHUNK = 700;

/** `fn` over consecutive slices of `items`, the results concatenated (one query at a time: chDB runs one anyway). */
async function chunked<T, R>(items: T[], size: number, fn: (slice: T[]) => Promise<R[]>): Promise<R[]> {
  const out: R[] = [];
  for (let i = 0; i < items.length; i += size) for (const r of await fn(items.slice(i, i + size))) out.push(r);
  return out;
}

/**
 * Every event_keys row of these (tenant, event) ids: stored copies (+1) and their cancellations
 * (-1), not yet collapsed by a merge or already. Sorted by (tenant_id, event_id), so the primary
 * key finds them.
 */
export function lookupKeys(store: Store, ids: { tenant_id: string; event_id: string }[]): Promise<KeyRow[]> {
  return chunked(ids, LOOKUP_CHUNK, (slice) => lookupKeysOnce(store, slice));
}

async function lookupKeysOnce(store: Store, ids: { tenant_id: string; event_id: string }[]): Promise<KeyRow[]> {
  if (ids.length === 0) return [];
  const result = await store.client.query({
    query: `select toString(tenant_id) as tenant_id, toString(event_id) as event_id, toString(campaign_id) as campaign_id,
              toString(occurred_at) as occurred_at, detail_rank, sign
            from ${store.table('event_keys')} where (tenant_id, event_id) in (${idTuples(ids)})`,
    format: 'JSONEachRow',
  });
  return (await result.json<KeyRow>()).map((r) => ({ ...r, detail_rank: Number(r.detail_rank), sign: Number(r.sign) }));
}

/** The full stored rows of these copies (to write their cancellations), found by the sorting key. */
export function fetchCopies(store: Store, keys: KeyRow[]): Promise<EventRow[]> {
  return chunked(keys, FETCH_CHUNK, (slice) => fetchCopiesOnce(store, slice));
}

async function fetchCopiesOnce(store: Store, keys: KeyRow[]): Promise<EventRow[]> {
  if (keys.length === 0) return [];
  const where = keys
    .map((k) => {
      for (const id of [k.tenant_id, k.event_id, k.campaign_id]) if (!UUID.test(id)) throw new Error(`not a lower-case UUID: ${id}`);
      if (!/^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3}$/.test(k.occurred_at)) throw new Error(`not a time: ${k.occurred_at}`);
      return `(tenant_id = '${k.tenant_id}' and campaign_id = '${k.campaign_id}' and occurred_at = '${k.occurred_at}' and event_id = '${k.event_id}' and detail_rank = ${Number(k.detail_rank)})`;
    })
    .join(' or ');
  const result = await store.client.query({
    query: `select toString(event_id) as event_id, toString(tenant_id) as tenant_id, toString(occurred_at) as occurred_at, event_type,
              toString(campaign_id) as campaign_id, toString(email_account_id) as email_account_id, toString(sequence_step_id) as sequence_step_id,
              toString(lead_id) as lead_id, toString(message_ref_id) as message_ref_id, bounce_type, variant, detail_rank
            from ${store.table('events')} where sign = 1 and (${where})
            limit 1 by tenant_id, event_id`,
    format: 'JSONEachRow',
  });
  return (await result.json<Omit<EventRow, 'sign'>>()).map((r) => ({ ...r, detail_rank: Number(r.detail_rank), sign: 1 as const }));
}

/**
 * Calls `add` with the 16 bytes of every stored event id (all tenants), for the writer's
 * in-process filter. chDB: one RowBinary result (16 bytes a row, ~1 s per 10M ids here);
 * a server: the same bytes streamed.
 */
export async function forEachStoredId(store: Store, add: (bytes: Uint8Array, offset: number) => void): Promise<number> {
  const sql = `select event_id from ${store.table('event_keys')} where sign = 1`;
  let n = 0;
  const consume = (buf: Uint8Array) => {
    for (let o = 0; o + 16 <= buf.length; o += 16, n++) add(buf, o);
  };
  if (store.native) {
    consume((await store.native.queryAsync(`${sql} format RowBinary`, { format: 'RowBinary' })).bytes());
    return n;
  }
  // exec, not query: query would append its own FORMAT clause; exec streams the bytes as they are.
  const result = await store.client.exec({ query: `${sql} format RowBinary` });
  let rest = Buffer.alloc(0);
  for await (const chunk of result.stream as AsyncIterable<Buffer>) {
    const buf = rest.length ? Buffer.concat([rest, chunk]) : chunk;
    const whole = buf.length - (buf.length % 16);
    consume(buf.subarray(0, whole));
    rest = Buffer.from(buf.subarray(whole));
  }
  return n;
}
