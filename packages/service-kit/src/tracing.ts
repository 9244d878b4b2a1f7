import {
  ROOT_CONTEXT,
  SpanKind,
  SpanStatusCode,
  context,
  propagation,
  trace,
  type Attributes,
  type Link,
  type Span,
  type TextMapGetter,
  type TextMapSetter,
  type Tracer,
} from '@opentelemetry/api';
import { InterceptingCall, type Interceptor, type Metadata } from '@grpc/grpc-js';
import { z } from 'zod';
import type { Logger } from 'pino';
import { url } from './config';

/**
 * OpenTelemetry traces for the platform, off by default.
 *
 * Only `@opentelemetry/api` (a few small modules) is imported here; the SDK, the exporter and
 * the context manager are loaded by {@link startTracing} when OTEL_TRACES_EXPORTER asks for
 * them (`./tracing-sdk`). Until then every hook below is one `if (!tracer)` and returns: the
 * kit's server, clients, transactions, outbox and consumers pay nothing measurable
 * (bench: `--only tracing`).
 *
 * gRPC and NATS are instrumented by hand in the kit instead of with
 * `@opentelemetry/instrumentation-grpc` and an auto-instrumentation of nats.js: the kit already
 * owns the one place every call enters (the server wrapper), every outgoing client (`connect`),
 * the relay's publish and the consumer's batch, so a span there is a few lines. The
 * auto-instrumentations patch modules at `require` time (the SDK would have to load before
 * grpc-js, i.e. always, costing even when tracing is off), and no maintained one covers
 * nats.js v3 JetStream or our outbox, whose trace context must survive a database row.
 */

/** Settings read by {@link startTracing}: the standard OTEL_* variables (the subset the kit supports). */
export function tracingSettings(serviceName: string) {
  const protocol = z.enum(['http/protobuf', 'http/json']);
  return {
    /** `true` switches tracing off whatever else is set (the OpenTelemetry convention). */
    OTEL_SDK_DISABLED: z.enum(['true', 'false', '']).default('false'),
    /** `otlp` sends spans over OTLP/HTTP; `console` prints them (debugging); `none` (default) = tracing off. */
    OTEL_TRACES_EXPORTER: z.enum(['otlp', 'console', 'none']).default('none'),
    OTEL_SERVICE_NAME: z.string().min(1).default(serviceName),
    /** Base URL of the collector; spans go to `<it>/v1/traces`. Default http://localhost:4318. */
    OTEL_EXPORTER_OTLP_ENDPOINT: url('http:', 'https:').optional(),
    /** Full URL for spans (wins over OTEL_EXPORTER_OTLP_ENDPOINT). */
    OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: url('http:', 'https:').optional(),
    OTEL_EXPORTER_OTLP_PROTOCOL: protocol.default('http/protobuf'),
    /** How long one export may take, retries included (ms). */
    OTEL_EXPORTER_OTLP_TIMEOUT: z.coerce.number().int().positive().default(10_000),
    OTEL_EXPORTER_OTLP_TRACES_PROTOCOL: protocol.optional(),
    OTEL_TRACES_SAMPLER: z
      .enum(['always_on', 'always_off', 'traceidratio', 'parentbased_always_on', 'parentbased_always_off', 'parentbased_traceidratio'])
      .default('parentbased_always_on'),
    /** The ratio of the `*traceidratio` samplers, 0..1 (default 1). */
    OTEL_TRACES_SAMPLER_ARG: z.coerce.number().min(0).max(1).optional(),
    /** Batch span processor: delay between exports (ms), queue size, batch size, export timeout (ms). */
    OTEL_BSP_SCHEDULE_DELAY: z.coerce.number().int().positive().default(5_000),
    OTEL_BSP_MAX_QUEUE_SIZE: z.coerce.number().int().positive().default(2_048),
    OTEL_BSP_MAX_EXPORT_BATCH_SIZE: z.coerce.number().int().positive().default(512),
    OTEL_BSP_EXPORT_TIMEOUT: z.coerce.number().int().positive().default(30_000),
  };
}

/** The parsed {@link tracingSettings}. */
export type TracingSettings = z.infer<z.ZodObject<ReturnType<typeof tracingSettings>>>;

/** What {@link startTracing} returns: flush and stop on shutdown. */
export interface Tracing {
  /** Where spans go, for the "ready" line (`otlp http://…/v1/traces`, `console`). */
  describe: string;
  /** Exports what is buffered and stops. */
  shutdown(): Promise<void>;
}

let tracer: Tracer | undefined;

/** True once {@link startTracing} installed an SDK in this process. The hooks below are no-ops otherwise. */
export function tracingEnabled(): boolean {
  return tracer !== undefined;
}

/**
 * Starts the OpenTelemetry SDK when OTEL_TRACES_EXPORTER is `otlp` or `console` (and
 * OTEL_SDK_DISABLED is not `true`); otherwise loads nothing and returns undefined. Registers the
 * provider, the W3C trace-context propagator and an AsyncLocalStorage context manager globally,
 * so libraries that use the OpenTelemetry API join the same traces.
 */
export function startTracing(s: TracingSettings, logger: Logger): Tracing | undefined {
  if (s.OTEL_SDK_DISABLED === 'true' || s.OTEL_TRACES_EXPORTER === 'none') return undefined;
  // Loaded here, not imported above: a process with tracing off never loads the SDK.
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const sdk = require('./tracing-sdk') as typeof import('./tracing-sdk');
  const started = sdk.installSdk(s, logger);
  tracer = started.tracer;
  return {
    describe: started.describe,
    shutdown: async () => {
      tracer = undefined;
      await started.shutdown();
    },
  };
}

// ---- carriers ---------------------------------------------------------------------------

const metadataGetter: TextMapGetter<Metadata> = {
  keys: (m) => Object.keys(m.getMap()),
  get: (m, key) => {
    const v = m.get(key);
    return v.length ? v.map(String) : undefined;
  },
};
const metadataSetter: TextMapSetter<Metadata> = { set: (m, key, value) => m.set(key, value) };

/** The headers of a NATS message as nats.js v3 gives them (`MsgHdrs`). */
interface NatsHeaders {
  get(key: string): string;
  keys(): string[];
}
const natsGetter: TextMapGetter<NatsHeaders | undefined> = {
  keys: (h) => (h ? h.keys() : []),
  get: (h, key) => h?.get(key) || undefined,
};

/** The trace context of the active span as W3C headers (`traceparent`, maybe `tracestate`); undefined when off or outside a span. */
export function activeTraceHeaders(): { traceparent: string; tracestate?: string } | undefined {
  if (!tracer) return undefined;
  const carrier: Record<string, string> = {};
  propagation.inject(context.active(), carrier);
  return carrier.traceparent ? { traceparent: carrier.traceparent, tracestate: carrier.tracestate } : undefined;
}

/** `trace_id` and `span_id` of a span, for log lines. */
export function traceLogFields(span: Span | undefined): { trace_id: string; span_id: string } | undefined {
  if (!span) return undefined;
  const sc = span.spanContext();
  return { trace_id: sc.traceId, span_id: sc.spanId };
}

/** Runs `fn` with `span` active (children and log fields find it); just `fn()` without one. */
export function runWithSpan<T>(span: Span | undefined, fn: () => T): T {
  return span ? context.with(trace.setSpan(context.active(), span), fn) : fn();
}

/** Ends a span, marking it failed when `err` is given. */
export function endSpan(span: Span | undefined, err?: unknown, attributes?: Attributes): void {
  if (!span) return;
  if (attributes) span.setAttributes(attributes);
  if (err !== undefined) {
    const e = err instanceof Error ? err : new Error(String(err));
    span.recordException(e);
    span.setStatus({ code: SpanStatusCode.ERROR, message: e.message.slice(0, 200) });
  }
  span.end();
}

/**
 * Runs `fn` in a new child span of the active span (a database transaction inside a call or
 * an event's handling); just `fn()` when tracing is off or no span is active: background work
 * (the relay's polls, sweepers) starts no trace of its own.
 */
export async function inChildSpan<T>(name: string, kind: SpanKind, attributes: Attributes, fn: () => Promise<T>): Promise<T> {
  if (!tracer || !trace.getSpan(context.active())) return fn();
  const span = tracer.startSpan(name, { kind, attributes });
  try {
    const out = await context.with(trace.setSpan(context.active(), span), fn);
    endSpan(span);
    return out;
  } catch (err) {
    endSpan(span, err);
    throw err;
  }
}

// ---- gRPC -------------------------------------------------------------------------------

/** `/pkg.Service/Method` → semantic-convention attributes and the span name `pkg.Service/Method`. */
function rpcAttributes(path: string): { name: string; attributes: Attributes } {
  const name = path.startsWith('/') ? path.slice(1) : path;
  const slash = name.lastIndexOf('/');
  return { name, attributes: { 'rpc.system': 'grpc', 'rpc.service': name.slice(0, slash), 'rpc.method': name.slice(slash + 1) } };
}

/**
 * The server span of a gRPC call, child of the caller's `traceparent` metadata when it sent
 * one; undefined when tracing is off. The kit's server wrapper starts it, runs the handler in
 * it ({@link runWithSpan}) and ends it with the status code ({@link endRpcSpan}).
 */
export function startServerSpan(path: string, metadata: Metadata, requestId: string): Span | undefined {
  if (!tracer) return undefined;
  const parent = propagation.extract(ROOT_CONTEXT, metadata, metadataGetter);
  const { name, attributes } = rpcAttributes(path);
  return tracer.startSpan(name, { kind: SpanKind.SERVER, attributes: { ...attributes, 'pm.request_id': requestId } }, parent);
}

/**
 * Server-side codes that mean the server failed (OpenTelemetry's gRPC conventions): UNKNOWN,
 * DEADLINE_EXCEEDED, UNIMPLEMENTED, INTERNAL, UNAVAILABLE, DATA_LOSS. A caller's mistake
 * (INVALID_ARGUMENT, NOT_FOUND, …) leaves the server span unset.
 */
const SERVER_ERROR_CODES = new Set([2, 4, 12, 13, 14, 15]);

/** Ends a gRPC span with its status code. */
export function endRpcSpan(span: Span | undefined, code: number, message?: string, client = false): void {
  if (!span) return;
  span.setAttribute('rpc.grpc.status_code', code);
  if (code !== 0 && (client || SERVER_ERROR_CODES.has(code))) span.setStatus({ code: SpanStatusCode.ERROR, message: message?.slice(0, 200) });
  span.end();
}

/**
 * A grpc-js client interceptor: a CLIENT span per call, child of the active context, whose
 * `traceparent` goes out in the call's metadata. {@link connect} adds it when tracing is on.
 */
export function tracingClientInterceptor(): Interceptor {
  return (options, nextCall) => {
    if (!tracer) return new InterceptingCall(nextCall(options));
    const { name, attributes } = rpcAttributes(options.method_definition.path);
    const parent = context.active();
    const span = tracer.startSpan(name, { kind: SpanKind.CLIENT, attributes }, parent);
    return new InterceptingCall(nextCall(options), {
      start: (metadata, listener, next) => {
        propagation.inject(trace.setSpan(parent, span), metadata, metadataSetter);
        next(metadata, {
          onReceiveStatus: (status, nextStatus) => {
            endRpcSpan(span, status.code, status.details, true);
            nextStatus(status);
          },
        });
      },
    });
  };
}

// ---- events -----------------------------------------------------------------------------

/**
 * The relay's PRODUCER span for one outbox row written inside a traced request (its stored
 * `traceparent`); sets `traceparent`/`tracestate` on the NATS headers so consumers continue
 * the trace. Undefined (nothing set) when tracing is off or the row carries no context.
 */
export function startPublishSpan(
  subject: string,
  eventId: string,
  stored: { traceparent?: string | null; tracestate?: string | null },
  headers: { set(key: string, value: string): void },
): Span | undefined {
  if (!tracer || !stored.traceparent) return undefined;
  const parent = propagation.extract(ROOT_CONTEXT, { traceparent: stored.traceparent, ...(stored.tracestate ? { tracestate: stored.tracestate } : {}) });
  const span = tracer.startSpan(
    `publish ${subject.split('.').at(-1)}`,
    { kind: SpanKind.PRODUCER, attributes: { 'messaging.system': 'nats', 'messaging.operation.type': 'send', 'messaging.destination.name': subject, 'messaging.message.id': eventId } },
    parent,
  );
  const carrier: Record<string, string> = {};
  propagation.inject(trace.setSpan(parent, span), carrier);
  for (const [k, v] of Object.entries(carrier)) headers.set(k, v);
  return span;
}

/** One consumed message as {@link startProcessSpans} needs it. */
export interface TracedMessage {
  subject: string;
  headers?: NatsHeaders;
  eventId: string;
  eventType: string;
}

/** The spans of one consumed batch: run the handler in {@link ProcessSpans.run}, then {@link ProcessSpans.end}. */
export interface ProcessSpans {
  run<T>(fn: () => Promise<T>): Promise<T>;
  /** Ends every span; `failed` marks them failed (the batch is redelivered or dead-lettered). */
  end(failed?: unknown): void;
  /** trace_id/span_id of the span the handler runs in, for the consumer's log lines. */
  logFields(): { trace_id: string; span_id: string } | undefined;
}

/**
 * A CONSUMER span per message, child of the producer's span (the `traceparent` header the
 * relay set), so each event's handling is part of the trace of the request that wrote it.
 * A batch of one runs its handler inside that span; a larger batch runs it in one `process
 * batch` span linked to every message span (the OpenTelemetry messaging convention for batch
 * processing: one operation cannot have several parents). Undefined when tracing is off.
 */
export function startProcessSpans(messages: TracedMessage[], consumer: { stream: string; durable: string }): ProcessSpans | undefined {
  if (!tracer) return undefined;
  const t = tracer;
  const base: Attributes = { 'messaging.system': 'nats', 'messaging.operation.type': 'process', 'messaging.consumer.group.name': consumer.durable };
  const spans = messages.map((m) =>
    t.startSpan(
      `process ${m.subject.split('.').at(-1)}`,
      {
        kind: SpanKind.CONSUMER,
        attributes: { ...base, 'messaging.destination.name': m.subject, 'messaging.message.id': m.eventId, 'pm.event_type': m.eventType },
      },
      propagation.extract(ROOT_CONTEXT, m.headers, natsGetter),
    ),
  );
  const outer =
    spans.length === 1
      ? spans[0]
      : t.startSpan(`process batch ${consumer.durable}`, {
          kind: SpanKind.CONSUMER,
          attributes: { ...base, 'messaging.batch.message_count': spans.length },
          links: spans.map((s): Link => ({ context: s.spanContext() })),
        }, ROOT_CONTEXT);
  return {
    run: (fn) => context.with(trace.setSpan(ROOT_CONTEXT, outer), fn),
    end: (failed) => {
      for (const s of spans) endSpan(s, failed);
      if (outer !== spans[0]) endSpan(outer, failed);
    },
    logFields: () => traceLogFields(outer),
  };
}
