-- The W3C trace context of the request that wrote an outbox row (issue 13: traces across the
-- outbox). Written only while tracing is on (OTEL_TRACES_EXPORTER); the relay publishes it as
-- `traceparent`/`tracestate` NATS headers. Additive and nullable: older rows and writers
-- without tracing leave it null. text, not varchar(n): a longer tracestate from a caller must
-- never fail the write it rides on.
alter table outbox_events add column traceparent text, add column tracestate text;
