import { createServer } from 'node:net';
import { credentials, Metadata, status, type ServiceError } from '@grpc/grpc-js';
import type { commonV1 } from '@penguinmails/contracts';
import { Metrics, NotFoundError, createGrpcServer, createLogger, grpcCodeLabel, startMetricsServer } from '../src';
import { Probe, ProbeClient, type ProbeService } from './fixtures/probe-service';

type Client = InstanceType<typeof ProbeClient> & Record<string, Function>;

const echo = (c: Client, pageToken: string) =>
  new Promise<unknown>((resolve, reject) =>
    c.echo({ pageSize: 0, pageToken }, new Metadata(), { deadline: Date.now() + 5_000 }, (err: ServiceError | null, res: unknown) =>
      err ? reject(err) : resolve(res),
    ),
  );

test('grpc_code values are grpc-go names', () => {
  expect(grpcCodeLabel(status.OK)).toBe('OK');
  expect(grpcCodeLabel(status.NOT_FOUND)).toBe('NotFound');
  expect(grpcCodeLabel(status.INVALID_ARGUMENT)).toBe('InvalidArgument');
  expect(grpcCodeLabel(status.CANCELLED)).toBe('Canceled');
  expect(grpcCodeLabel(status.DEADLINE_EXCEEDED)).toBe('DeadlineExceeded');
});

test('the server wrapper counts calls by code and times them; /metrics serves them and collected gauges', async () => {
  const metrics = new Metrics();
  const logger = createLogger({ service: 'probe', level: 'silent' });
  const s = createGrpcServer({ service: 'probe', logger, metrics });
  s.addService<ProbeService>('penguinmails.test.v1.ProbeService', Probe, {
    echo: async (req: commonV1.PageRequest) => {
      if (req.pageToken === 'missing') throw new NotFoundError('tenant', 'abc');
      return { nextPageToken: 'ok' };
    },
    list: async function* () {},
  });
  const port = await s.listen('127.0.0.1', 0);
  const c = new ProbeClient(`127.0.0.1:${port}`, credentials.createInsecure()) as Client;
  let depth = 7;
  const remove = metrics.collect('pm_test_depth', 'a gauge read on scrape', ['status'], () => [{ labels: { status: 'queued' }, value: depth }]);
  metrics.collect('pm_test_broken', 'a collector that fails', [], () => {
    throw new Error('store down');
  });
  const server = await startMetricsServer({ port: 0, host: '127.0.0.1', metrics, logger });
  try {
    await echo(c, 'a');
    await echo(c, 'b');
    await expect(echo(c, 'missing')).rejects.toMatchObject({ code: status.NOT_FOUND });
    const text = await (await fetch(`http://127.0.0.1:${server.port}/metrics`)).text();
    const labels = 'grpc_type="unary",grpc_service="penguinmails.test.v1.ProbeService",grpc_method="Echo"';
    expect(text).toContain(`grpc_server_started_total{${labels}} 3`);
    expect(text).toContain(`grpc_server_handled_total{${labels},grpc_code="OK"} 2`);
    expect(text).toContain(`grpc_server_handled_total{${labels},grpc_code="NotFound"} 1`);
    expect(text).toContain(`grpc_server_handling_seconds_count{${labels}} 3`);
    expect(text).toMatch(/grpc_server_handling_seconds_bucket\{le="0\.1",grpc_type="unary",.*\} 3/);
    expect(text).toContain('pm_test_depth{status="queued"} 7');
    expect(text).toContain('# TYPE pm_test_broken gauge'); // a failing collector leaves its gauge empty, the scrape works
    depth = 3;
    expect(await metrics.text()).toContain('pm_test_depth{status="queued"} 3');
    remove();
    expect(await metrics.text()).not.toContain('pm_test_depth{');
    expect((await fetch(`http://127.0.0.1:${server.port}/other`)).status).toBe(404);
  } finally {
    c.close();
    await server.close();
    await s.shutdown(1_000);
  }
});

test('a METRICS_PORT in use is one warning line, not a failure', async () => {
  const blocker = createServer();
  await new Promise<void>((r) => blocker.listen(0, '127.0.0.1', () => r()));
  const port = (blocker.address() as { port: number }).port;
  const lines: string[] = [];
  const logger = createLogger({ service: 'probe', level: 'info' });
  logger.warn = ((_o: unknown, msg: string) => void lines.push(msg)) as never;
  try {
    const server = await startMetricsServer({ port, host: '127.0.0.1', metrics: new Metrics(), logger });
    expect(server.port).toBeUndefined();
    expect(lines).toEqual([`METRICS_PORT ${port} is in use; serving without /metrics`]);
    await server.close();
  } finally {
    blocker.close();
  }
});
