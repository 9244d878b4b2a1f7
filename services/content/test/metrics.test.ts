import { startPlatform, type Platform } from '@penguinmails/testkit';

// The tiers' own gauges through real processes (dist/main.js via startPlatform): content's stored
// bytes and its MessageRecorded consumer's lag; analytics' freshness (its consumer's lag).

let platform: Platform;
const ports: Record<string, number> = {};

beforeAll(async () => {
  // METRICS_PORT=0: the OS picks each port; the platform reads it from the service's ready line.
  platform = await startPlatform({ services: ['content', 'analytics'], env: { METRICS_PORT: '0' } });
  ports.content = platform.services.content.metricsPort!;
  ports.analytics = platform.services.analytics.metricsPort!;
  expect(ports.content).toBeGreaterThan(0);
  expect(ports.analytics).toBeGreaterThan(0);
}, 120_000);
afterAll(async () => {
  await platform?.stop();
});

const scrape = async (port: number) => (await fetch(`http://127.0.0.1:${port}/metrics`)).text();

test('content serves stored bytes per table, consumer lag, pool, outbox and RPC series', async () => {
  const text = await scrape(ports.content);
  expect(text).toMatch(/^pm_content_stored_bytes\{table="content_objects"\} [1-9]\d*$/m);
  expect(text).toMatch(/^pm_content_stored_bytes\{table="attachments"\} \d+$/m);
  expect(text).toMatch(/^pm_consumer_lag_seconds\{stream="[^"]+_METADATA",durable="[^"]+"\} \d/m);
  expect(text).toMatch(/^pm_pg_pool_clients\{state="total"\} \d+$/m);
  expect(text).toMatch(/^pm_outbox_backlog \d+$/m);
  expect(text).toContain('# TYPE grpc_server_handled_total counter');
}, 60_000);

test('analytics serves its freshness (consumer lag and pending) and no pool gauge', async () => {
  const text = await scrape(ports.analytics);
  expect(text).toMatch(/^pm_consumer_lag_seconds\{stream="[^"]+_METADATA",durable="analytics-metadata-events"\} \d/m);
  expect(text).toMatch(/^pm_consumer_pending\{stream="[^"]+_METADATA",durable="analytics-metadata-events"\} \d+$/m);
  expect(text).not.toContain('pm_pg_pool_clients{');
}, 60_000);
