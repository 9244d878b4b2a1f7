// The OpenTelemetry SDK wiring, loaded by tracing.ts only when tracing is switched on.
import { context, propagation, trace, type Tracer } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { ExportResultCode, W3CTraceContextPropagator, type ExportResult } from '@opentelemetry/core';
import { OTLPTraceExporter as OtlpJsonExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { OTLPTraceExporter as OtlpProtoExporter } from '@opentelemetry/exporter-trace-otlp-proto';
import { detectResources, resourceAttributesEnvDetector, resourceFromAttributes } from '@opentelemetry/resources';
import {
  AlwaysOffSampler,
  AlwaysOnSampler,
  BatchSpanProcessor,
  ConsoleSpanExporter,
  ParentBasedSampler,
  TraceIdRatioBasedSampler,
  TracerProvider,
  type ReadableSpan,
  type Sampler,
  type SpanExporter,
} from '@opentelemetry/sdk-trace';
import type { Logger } from 'pino';
import { redact } from './redact';
import type { TracingSettings } from './tracing';

function sampler(s: TracingSettings): Sampler {
  const ratio = new TraceIdRatioBasedSampler(s.OTEL_TRACES_SAMPLER_ARG ?? 1);
  switch (s.OTEL_TRACES_SAMPLER) {
    case 'always_on':
      return new AlwaysOnSampler();
    case 'always_off':
      return new AlwaysOffSampler();
    case 'traceidratio':
      return ratio;
    case 'parentbased_always_off':
      return new ParentBasedSampler({ root: new AlwaysOffSampler() });
    case 'parentbased_traceidratio':
      return new ParentBasedSampler({ root: ratio });
    default:
      return new ParentBasedSampler({ root: new AlwaysOnSampler() });
  }
}

/**
 * An exporter that says once, in one warning line, that the collector does not answer, and
 * once that it answers again. The SDK itself reports each failed export to its diagnostic
 * logger (silent unless set): one line per batch would flood the service's log while the
 * collector is down, none at all would hide that traces are being dropped.
 */
class OutageLoggingExporter implements SpanExporter {
  private failing = false;
  constructor(
    private readonly inner: SpanExporter,
    private readonly endpoint: string,
    private readonly logger: Logger,
  ) {}

  export(spans: ReadableSpan[], done: (result: ExportResult) => void): void {
    this.inner.export(spans, (result) => {
      if (result.code !== ExportResultCode.SUCCESS) {
        this.logger.debug({ exporter: this.endpoint, spans: spans.length, err: result.error?.message }, 'trace export failed');
        if (!this.failing) {
          this.failing = true;
          this.logger.warn(
            { exporter: this.endpoint, err: result.error?.message },
            `trace exporter at ${this.endpoint} does not answer; spans are dropped until it does (the service keeps serving; fix OTEL_EXPORTER_OTLP_ENDPOINT or start the collector)`,
          );
        }
      } else if (this.failing) {
        this.failing = false;
        this.logger.info({ exporter: this.endpoint }, `trace exporter at ${this.endpoint} answers again`);
      }
      done(result);
    });
  }

  shutdown(): Promise<void> {
    return this.inner.shutdown();
  }

  forceFlush(): Promise<void> {
    return this.inner.forceFlush?.() ?? Promise.resolve();
  }
}

/** Where OTLP spans go: the traces endpoint as given, else `<endpoint>/v1/traces`, else the collector's default. */
export function tracesUrl(s: TracingSettings): string {
  if (s.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT) return s.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT;
  const base = s.OTEL_EXPORTER_OTLP_ENDPOINT ?? 'http://localhost:4318';
  return `${base.replace(/\/+$/, '')}/v1/traces`;
}

export function installSdk(s: TracingSettings, logger: Logger): { tracer: Tracer; describe: string; shutdown(): Promise<void> } {
  let exporter: SpanExporter;
  let describe: string;
  if (s.OTEL_TRACES_EXPORTER === 'console') {
    exporter = new ConsoleSpanExporter();
    describe = 'console';
  } else {
    const url = tracesUrl(s);
    const protocol = s.OTEL_EXPORTER_OTLP_TRACES_PROTOCOL ?? s.OTEL_EXPORTER_OTLP_PROTOCOL;
    const inner = protocol === 'http/json' ? new OtlpJsonExporter({ url, timeoutMillis: s.OTEL_EXPORTER_OTLP_TIMEOUT }) : new OtlpProtoExporter({ url, timeoutMillis: s.OTEL_EXPORTER_OTLP_TIMEOUT });
    exporter = new OutageLoggingExporter(inner, redact(url), logger);
    describe = `otlp ${protocol} ${redact(url)}`;
  }
  const resource = detectResources({ detectors: [resourceAttributesEnvDetector] }).merge(resourceFromAttributes({ 'service.name': s.OTEL_SERVICE_NAME }));
  const provider = new TracerProvider({
    resource,
    sampler: sampler(s),
    spanProcessors: [
      new BatchSpanProcessor({
        exporter,
        scheduledDelayMillis: s.OTEL_BSP_SCHEDULE_DELAY,
        maxQueueSize: s.OTEL_BSP_MAX_QUEUE_SIZE,
        maxExportBatchSize: Math.min(s.OTEL_BSP_MAX_EXPORT_BATCH_SIZE, s.OTEL_BSP_MAX_QUEUE_SIZE),
        exportTimeoutMillis: s.OTEL_BSP_EXPORT_TIMEOUT,
      }),
    ],
  });
  const contextManager = new AsyncLocalStorageContextManager().enable();
  context.setGlobalContextManager(contextManager);
  propagation.setGlobalPropagator(new W3CTraceContextPropagator());
  trace.setGlobalTracerProvider(provider);
  return {
    tracer: provider.getTracer('@penguinmails/service-kit'),
    describe,
    shutdown: async () => {
      await provider.shutdown().catch((err: Error) => logger.warn({ err: err.message }, 'flushing the last spans failed'));
      trace.disable();
      propagation.disable();
      context.disable();
    },
  };
}
