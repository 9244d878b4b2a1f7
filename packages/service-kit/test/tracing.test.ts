// The kit's tracing switch: off loads no SDK and its hooks do nothing; the OTEL_* settings are
// validated like every other setting; on, an outbox row written in a span carries its context.
// (The end-to-end trace across the four services is packages/sdk/test/tracing.test.ts.)
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { trace } from '@opentelemetry/api';
import { ConfigError, createLogger, loadConfig, outboxInsert, outboxInsertMany, startTracing, tracingEnabled, tracingSettings } from '../src';

const row = { eventId: '9b2e4c1a-0d3f-4a5b-8c6d-7e8f9a0b1c2d', tenantId: '3f1c2a9e-6b7d-4e8f-9a0b-1c2d3e4f5a6b', subject: 'pm.x.t.e', eventType: 't.E', bytes: new Uint8Array([1]) };

test('off (the default): no OpenTelemetry SDK module is loaded, startTracing returns nothing, the outbox statement has no trace columns', () => {
  // A fresh Node process: jest's module registry would hide what a service process loads.
  const script = `
    const kit = require(${JSON.stringify(join(__dirname, '..', 'dist', 'index.js'))});
    const t = kit.startTracing(kit.loadConfig(kit.tracingSettings('probe'), {}), kit.createLogger({ service: 'probe', level: 'silent' }));
    const loaded = Object.keys(require.cache).filter((k) => /@opentelemetry[\\\\/](sdk-trace|exporter-|resources|context-async-hooks|core)/.test(k));
    process.stdout.write(JSON.stringify({ started: t !== undefined, enabled: kit.tracingEnabled(), loaded: loaded.length }));
  `;
  const out = spawnSync(process.execPath, ['-e', script], { encoding: 'utf8', env: { PATH: process.env.PATH } });
  expect(out.stderr).toBe('');
  expect(JSON.parse(out.stdout)).toEqual({ started: false, enabled: false, loaded: 0 });
  expect(tracingEnabled()).toBe(false);
  expect(outboxInsert(row).values).toHaveLength(5);
});

test('OTEL_* settings: a wrong exporter, protocol, sampler ratio or endpoint stops the start naming the variable', () => {
  const bad = (env: Record<string, string>, variable: string) => {
    try {
      loadConfig(tracingSettings('metadata'), env);
    } catch (err) {
      expect(err).toBeInstanceOf(ConfigError);
      expect((err as ConfigError).problems.map((p) => p.variable)).toEqual([variable]);
      return;
    }
    throw new Error(`${variable} was accepted`);
  };
  bad({ OTEL_TRACES_EXPORTER: 'jaeger' }, 'OTEL_TRACES_EXPORTER');
  bad({ OTEL_EXPORTER_OTLP_PROTOCOL: 'grpc' }, 'OTEL_EXPORTER_OTLP_PROTOCOL');
  bad({ OTEL_TRACES_SAMPLER_ARG: '2' }, 'OTEL_TRACES_SAMPLER_ARG');
  bad({ OTEL_EXPORTER_OTLP_ENDPOINT: 'collector:4318' }, 'OTEL_EXPORTER_OTLP_ENDPOINT');
  expect(loadConfig(tracingSettings('metadata'), {})).toMatchObject({ OTEL_TRACES_EXPORTER: 'none', OTEL_SERVICE_NAME: 'metadata', OTEL_TRACES_SAMPLER: 'parentbased_always_on' });
});

test('on: an outbox row written inside a span stores that span as traceparent; outside a span it stores none', async () => {
  // The exporter is never reached in this test (nothing is flushed before shutdown fails fast).
  const tracing = startTracing(
    loadConfig(tracingSettings('kit-test'), { OTEL_TRACES_EXPORTER: 'otlp', OTEL_EXPORTER_OTLP_ENDPOINT: 'http://127.0.0.1:9', OTEL_EXPORTER_OTLP_TIMEOUT: '100' }),
    createLogger({ service: 'kit-test', level: 'silent' }),
  );
  try {
    expect(tracingEnabled()).toBe(true);
    expect(outboxInsert(row).values).toHaveLength(5);
    await trace.getTracer('test').startActiveSpan('write', async (span) => {
      const { traceId, spanId } = span.spanContext();
      const one = outboxInsert(row);
      expect(one.text).toContain('traceparent, tracestate');
      expect(one.values.slice(5)).toEqual([`00-${traceId}-${spanId}-01`, null]);
      const many = outboxInsertMany([row, { ...row, eventId: '0c1d2e3f-4a5b-4c6d-8e7f-9a0b1c2d3e4f' }]);
      expect(many.values.slice(5)).toEqual([`00-${traceId}-${spanId}-01`, null]);
      span.end();
    });
  } finally {
    await tracing?.shutdown();
  }
  expect(tracingEnabled()).toBe(false);
});
