/**
 * The outbox row for one event, as a parameterised statement to run inside the same
 * transaction as the write it describes (pg: `client.query(q.text, q.values)`; Prisma:
 * `tx.$executeRawUnsafe(q.text, ...q.values)`). The row id is the event id and becomes the
 * JetStream `Nats-Msg-Id`.
 *
 * Table (copy into the service's first migration; see service-kit README):
 *   outbox_events(id uuid pk, tenant_id uuid, subject varchar(255), event_type varchar(200),
 *                 payload bytea, created timestamptz default now(), published timestamptz,
 *                 attempts int default 0, last_error text)
 */
export function outboxInsert(event: {
  eventId: string;
  tenantId: string;
  subject: string;
  eventType: string;
  /** The encoded EventEnvelope. */
  bytes: Uint8Array;
}): { text: string; values: unknown[] } {
  return {
    text: 'insert into outbox_events (id, tenant_id, subject, event_type, payload) values ($1, $2, $3, $4, $5)',
    values: [event.eventId, event.tenantId, event.subject, event.eventType, Buffer.from(event.bytes)],
  };
}

/** The same for many events in one statement (batch RPCs). */
export function outboxInsertMany(
  events: { eventId: string; tenantId: string; subject: string; eventType: string; bytes: Uint8Array }[],
): { text: string; values: unknown[] } {
  return {
    text: `insert into outbox_events (id, tenant_id, subject, event_type, payload)
           select * from unnest($1::uuid[], $2::uuid[], $3::varchar[], $4::varchar[], $5::bytea[])`,
    values: [
      events.map((e) => e.eventId),
      events.map((e) => e.tenantId),
      events.map((e) => e.subject),
      events.map((e) => e.eventType),
      events.map((e) => Buffer.from(e.bytes)),
    ],
  };
}
