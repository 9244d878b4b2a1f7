// Issue 13: OpenTelemetry traces across gRPC calls and NATS messages. The four services run as
// real processes (startPlatform) with their OTLP exporters pointed at an in-test OTLP/HTTP
// receiver. One IngestMessage must be one trace: the caller's traceparent → metadata (RPC,
// transaction) → content (PutContent) → the outbox → JetStream → the consumers in analytics
// and content (and content's event back to metadata).
// This process sends its own traceparent as call metadata instead of running the SDK's tracing:
// the OTLP exporter loads node:http with a dynamic import(), which jest's CommonJS sandbox
// refuses, so spans could not leave a jest worker (the services are real processes and export).
import { randomBytes } from 'node:crypto';
import { metadataV1 } from '@penguinmails/contracts';
import { freePort, startPlatform, type Platform } from '@penguinmails/testkit';
import { createPlatform, type PenguinMails } from '../src';
import { startOtlpReceiver, type OtlpReceiver, type ReceivedSpan } from './otlp-receiver';

const SERVER = 2;
const CLIENT = 3;
const PRODUCER = 4;
const CONSUMER = 5;

const waitFor = async (ok: () => boolean, ms: number): Promise<boolean> => {
  const end = Date.now() + ms;
  while (!ok()) {
    if (Date.now() > end) return false;
    await new Promise((r) => setTimeout(r, 100));
  }
  return true;
};

describe('one IngestMessage is one trace through metadata, content, the stream and analytics', () => {
  let receiver: OtlpReceiver;
  let platform: Platform;
  let pm: PenguinMails;
  beforeAll(async () => {
    receiver = await startOtlpReceiver();
    const otel = {
      OTEL_TRACES_EXPORTER: 'otlp',
      OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url,
      OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json',
      OTEL_BSP_SCHEDULE_DELAY: '200',
    };
    platform = await startPlatform({ env: otel });
    pm = createPlatform({ addresses: platform.addresses }, { env: {} });
  });
  afterAll(async () => {
    pm?.close();
    await platform?.stop();
    await receiver?.close();
  });

  test('spans of every tier share the trace id, each parent is in the trace, the consumers continue the producing request', async () => {
    const tenantId = (await pm.metadata.createTenant({ name: 'Traced' })).tenant!.id;
    const mailboxId = (await pm.metadata.createEmailAccount({ tenantId, email: 'sales@trace.test', provider: metadataV1.EmailProvider.EMAIL_PROVIDER_SMTP })).emailAccount!.id;
    // The caller's span: what an instrumented caller sends (W3C traceparent, sampled).
    const callerTrace = randomBytes(16).toString('hex');
    const callerSpan = randomBytes(8).toString('hex');
    const requestId = `trace-test-${callerSpan}`;
    const sent = await pm.sendMessage({
      tenantId,
      message: { emailAccountId: mailboxId, fromEmail: 'sales@trace.test', toEmail: 'lead@example.com', subject: 'Traced', providerMessageId: '<t1@trace.test>' },
      body: { contentText: 'Hi', headers: { 'Message-ID': '<t1@trace.test>' } },
      options: { metadata: { traceparent: `00-${callerTrace}-${callerSpan}-01`, 'x-request-id': requestId } },
    });
    expect(sent.created).toBe(true);

    const ingest = () => receiver.spans.find((s) => s.service === 'metadata' && s.kind === SERVER && s.name.endsWith('MetadataService/IngestMessage'));
    const inTrace = () => {
      const t = ingest()?.traceId;
      return t ? receiver.spans.filter((s) => s.traceId === t) : [];
    };
    const has = (service: string, kind: number, name: RegExp) => inTrace().some((s) => s.service === service && s.kind === kind && name.test(s.name));
    // Spans arrive in batches (OTEL_BSP_SCHEDULE_DELAY=200); the consumers' after the relay and a pull.
    await waitFor(
      () =>
        has('analytics', CONSUMER, /^process message_recorded$/) &&
        has('content', CONSUMER, /^process message_recorded$/) &&
        has('metadata', CONSUMER, /^process content_stored$/),
      30_000,
    );
    const spans = inTrace();
    const byId = new Map(spans.map((s) => [s.spanId, s]));
    const parentOf = (s: ReceivedSpan) => byId.get(s.parentSpanId);
    const one = (service: string, kind: number, name: RegExp) => {
      const found = spans.filter((s) => s.service === service && s.kind === kind && name.test(s.name));
      expect({ service, kind, name: String(name), found: found.length }).toEqual({ service, kind, name: String(name), found: 1 });
      return found[0];
    };

    // The RPC continues the caller's trace; every other span's parent is in the trace.
    const server = one('metadata', SERVER, /MetadataService\/IngestMessage$/);
    expect({ traceId: server.traceId, parentSpanId: server.parentSpanId }).toEqual({ traceId: callerTrace, parentSpanId: callerSpan });
    for (const s of spans.filter((x) => x !== server)) expect({ span: `${s.service} ${s.name}`, parentInTrace: Boolean(parentOf(s)) }).toEqual({ span: `${s.service} ${s.name}`, parentInTrace: true });
    expect(new Set(spans.map((s) => s.service))).toEqual(new Set(['metadata', 'content', 'analytics']));

    // metadata: the RPC and its transaction.
    expect(server.attributes).toMatchObject({ 'rpc.system': 'grpc', 'rpc.method': 'IngestMessage', 'rpc.grpc.status_code': 0 });
    const tx = spans.filter((s) => s.service === 'metadata' && s.name === 'pg transaction' && s.parentSpanId === server.spanId);
    expect(tx.length).toBeGreaterThanOrEqual(1);

    // metadata → content over gRPC: client span under the RPC, content's server span under it,
    // and content's own transaction under that.
    const putClient = one('metadata', CLIENT, /ContentService\/PutContent$/);
    expect(putClient.parentSpanId).toBe(server.spanId);
    const putServer = one('content', SERVER, /ContentService\/PutContent$/);
    expect(putServer.parentSpanId).toBe(putClient.spanId);
    expect(spans.some((s) => s.service === 'content' && s.name === 'pg transaction' && s.parentSpanId === putServer.spanId)).toBe(true);

    // The outbox: the relay's publish continues the transaction that wrote the row (its
    // stored traceparent), and each consumer's span is a child of that publish.
    const publish = one('metadata', PRODUCER, /^publish message_recorded$/);
    expect(tx.map((t) => t.spanId)).toContain(publish.parentSpanId);
    expect(publish.attributes['messaging.message.id']).toMatch(/^[0-9a-f-]{36}$/);
    const analytics = one('analytics', CONSUMER, /^process message_recorded$/);
    const content = one('content', CONSUMER, /^process message_recorded$/);
    for (const c of [analytics, content]) {
      expect(c.parentSpanId).toBe(publish.spanId);
      expect(c.attributes['messaging.message.id']).toBe(publish.attributes['messaging.message.id']);
    }
    // content's ContentStored event comes back to metadata's consumer in the same trace.
    const contentPublish = one('content', PRODUCER, /^publish content_stored$/);
    expect(parentOf(contentPublish)?.service).toBe('content');
    expect(one('metadata', CONSUMER, /^process content_stored$/).parentSpanId).toBe(contentPublish.spanId);

    // Logs share the ids: metadata's access-log line of the call carries its request id and the
    // trace and span ids of its server span, and the span carries the request id.
    expect(server.attributes['pm.request_id']).toBe(requestId);
    const line = platform
      .output('metadata')
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as Record<string, unknown>)
      .find((l) => l.msg === 'rpc' && String(l.rpc).endsWith('/IngestMessage'));
    expect(line).toMatchObject({ requestId, trace_id: server.traceId, span_id: server.spanId, code: 'OK' });
  });
});

describe('an exporter that does not answer', () => {
  test('one warning line, and the service keeps serving', async () => {
    const closed = await freePort();
    const platform = await startPlatform({
      services: ['content'],
      env: {
        OTEL_TRACES_EXPORTER: 'otlp',
        OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${closed}`,
        OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json',
        OTEL_EXPORTER_OTLP_TIMEOUT: '300',
        OTEL_BSP_SCHEDULE_DELAY: '50',
        LOG_LEVEL: 'debug',
      },
    });
    const pm = createPlatform({ addresses: platform.addresses }, { env: {} });
    try {
      const lines = () =>
        platform
          .output('content')
          .split('\n')
          .filter((l) => l.startsWith('{'))
          .map((l) => JSON.parse(l) as { level: string; msg: string });
      const tenantId = '3f1c2a9e-6b7d-4e8f-9a0b-1c2d3e4f5a6b';
      // Calls spread over time, so that several exports (one per 50 ms batch) fail.
      for (let i = 0; i < 8; i++) {
        const r = await pm.content.putContent({ tenantId, storageKey: `${tenantId}/m${i}`, contentText: `body ${i}` });
        expect(r).toMatchObject({ created: true, content: { storageKey: `${tenantId}/m${i}` } });
        await new Promise((r) => setTimeout(r, 150));
      }
      expect(await waitFor(() => lines().filter((l) => l.msg === 'trace export failed').length >= 3, 10_000)).toBe(true);
      const warnings = lines().filter((l) => l.level === 'warn' && /trace exporter/.test(l.msg));
      expect(warnings).toHaveLength(1);
      expect(warnings[0].msg).toContain(`http://127.0.0.1:${closed}/v1/traces does not answer`);

      // The collector comes up on that address: one line says so, and the spans arrive.
      const receiver = await startOtlpReceiver(closed);
      try {
        await pm.content.putContent({ tenantId, storageKey: `${tenantId}/after`, contentText: 'after' });
        expect(await waitFor(() => receiver.spans.some((s) => s.service === 'content' && s.name.endsWith('/PutContent')), 10_000)).toBe(true);
        // The span reaches the receiver before the service's log line reaches this process (a
        // pipe, read when this process gets a turn): wait for the line too (once failed under load).
        expect(await waitFor(() => lines().some((l) => /trace exporter .* answers again/.test(l.msg)), 10_000)).toBe(true);
        expect(lines().filter((l) => /trace exporter .* answers again/.test(l.msg))).toHaveLength(1);
        expect(lines().filter((l) => l.level === 'warn' && /trace exporter/.test(l.msg))).toHaveLength(1);
      } finally {
        await receiver.close();
      }
    } finally {
      pm.close();
      await platform.stop();
    }
  });
});
