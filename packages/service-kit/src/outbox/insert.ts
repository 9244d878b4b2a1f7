import { activeTraceHeaders } from '../tracing';

/**
 * The outbox row for one event, as a parameterised statement to run inside the same
 * transaction as the write it describes (pg: `client.query(q.text, q.values)`; Prisma:
 * `tx.$executeRawUnsafe(q.text, ...q.values)`). The row id is the event id and becomes the
 * JetStream `Nats-Msg-Id`.
 *
 * Table (copy into the service's first migration; see service-kit README):
 *   outbox_events(id uuid pk, tenant_id uuid, subject varchar(255), event_type varchar(200),
 *                 payload bytea, created timestamptz default now(), published timestamptz,
 *                 attempts int default 0, last_error text,
 *                 traceparent text, tracestate text)   -- W3C trace context, when written in a traced request
 *
 * With tracing on and a span active (a traced RPC), the row also stores the span's W3C
 * `traceparent`/`tracestate`: the relay publishes them as NATS headers, so the consumers'
 * spans join the trace of the request that wrote the event. With tracing off the statement
 * is the one without those columns.
 */
export function outboxInsert(event: {
  eventId: string;
  tenantId: string;
  subject: string;
  eventType: string;
  /** The encoded EventEnvelope. */
  bytes: Uint8Array;
}): { text: string; values: unknown[] } {
  const values = [event.eventId, event.tenantId, event.subject, event.eventType, Buffer.from(event.bytes)];
  const tc = activeTraceHeaders();
  if (tc)
    return {
      text: 'insert into outbox_events (id, tenant_id, subject, event_type, payload, traceparent, tracestate) values ($1, $2, $3, $4, $5, $6, $7)',
      values: [...values, tc.traceparent, tc.tracestate ?? null],
    };
  return {
    text: 'insert into outbox_events (id, tenant_id, subject, event_type, payload) values ($1, $2, $3, $4, $5)',
    values,
  };
}

/** The same for many events in one statement (batch RPCs). */
export function outboxInsertMany(
  events: { eventId: string; tenantId: string; subject: string; eventType: string; bytes: Uint8Array }[],
): { text: string; values: unknown[] } {
  const tc = activeTraceHeaders();
  return {
    text: tc
      ? `insert into outbox_events (id, tenant_id, subject, event_type, payload, traceparent, tracestate)
           select u.*, $6::text, $7::text from unnest($1::uuid[], $2::uuid[], $3::varchar[], $4::varchar[], $5::bytea[]) as u`
      : `insert into outbox_events (id, tenant_id, subject, event_type, payload)
           select * from unnest($1::uuid[], $2::uuid[], $3::varchar[], $4::varchar[], $5::bytea[])`,
    values: [
      events.map((e) => e.eventId),
      events.map((e) => e.tenantId),
      events.map((e) => e.subject),
      events.map((e) => e.eventType),
      events.map((e) => Buffer.from(e.bytes)),
      ...(tc ? [tc.traceparent, tc.tracestate ?? null] : []),
    ],
  };
}
