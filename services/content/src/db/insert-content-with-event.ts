import type { Pool, PoolClient } from 'pg';
import type { NewContent } from './insert-content';
import { CONTENT_COLUMNS, type ContentRow } from './rows';

/** The outbox row of the object's ContentStored event, built before the insert (see events.ts). */
export interface StoredEventRow {
  eventId: string;
  subject: string;
  eventType: string;
  payload: Buffer;
  traceparent: string | null;
  tracestate: string | null;
}

/**
 * PutContent's hot path in one statement: inserts the object and, only when it was inserted, its
 * ContentStored outbox row; does nothing when the key exists (undefined: the caller then frees
 * an expired key or compares a replay, in a transaction).
 *
 * Why one statement: a statement is atomic on its own, so the object and its event need no
 * BEGIN/COMMIT around them. The previous path (begin; delete an expired object under the key;
 * insert; outbox insert; commit) was five round trips per put, and on this 2-core machine each
 * round trip to PostgreSQL costs a wake-up of two processes: PutContent was 8.5 ms p50 at
 * concurrency 1 against 1.1 ms for the bare INSERT (bench:content, 2026-11-26). `created` is
 * therefore the service's clock (the event carries it, so it is chosen before the insert).
 * Named: parsed and planned once per connection.
 *
 * No NOTIFY: `quiet` sets pm.outbox_notify = 'off' for this statement's own (implicit)
 * transaction; it is the object insert's row source, so it is evaluated before anything is
 * inserted, and so before the outbox's statement trigger fires at the end of the statement
 * (also when the key is taken and nothing is inserted), which then skips pg_notify (migration
 * 20261226130000_outbox_notify_optional). A NOTIFY takes the database-wide notify lock at commit
 * through the WAL flush, which serialized every put (Lock:object waits at concurrency 8-32). The
 * caller wakes its own relay in process instead (ServerDeps.outboxWritten); other replicas'
 * relays find the row at their poll if this one cannot publish.
 */
export async function insertContentWithEvent(
  db: Pool | PoolClient,
  c: NewContent & { created: Date },
  event: StoredEventRow,
): Promise<ContentRow | undefined> {
  const { rows } = await db.query<ContentRow>({
    name: 'content-put',
    text: `with quiet as (
             select set_config('pm.outbox_notify', 'off', true) as off
           ), ins as (
             insert into content_objects (storage_key, tenant_id, content_text, content_html, headers, raw_size_bytes, expires, created)
             select $1, $2, $3, $4, $5::jsonb, $6, $7, $8 from quiet
             on conflict (storage_key) do nothing
             returning ${CONTENT_COLUMNS}
           ), event as (
             insert into outbox_events (id, tenant_id, subject, event_type, payload, traceparent, tracestate)
             select $9, $2, $10, $11, $12, $13, $14 from ins
           )
           select * from ins`,
    values: [
      c.storageKey,
      c.tenantId,
      c.contentText,
      c.contentHtml,
      c.headersJson,
      c.rawSizeBytes,
      c.expires,
      c.created,
      event.eventId,
      event.subject,
      event.eventType,
      event.payload,
      event.traceparent,
      event.tracestate,
    ],
  });
  return rows[0];
}
