// The test harness itself (testkit startPlatform): services bind the port the OS gives them and
// the harness reads it from each one's "gRPC server listening" line, so two platforms started at
// once (as jest workers do) never share a port, each address answers the service it names, and a
// restart comes back on the same address.
import { healthCheck, spawnPostgres, startPlatform, type Platform } from '@penguinmails/testkit';

const NAMES = {
  queue: 'penguinmails.queue.v1.QueueService',
  analytics: 'penguinmails.analytics.v1.AnalyticsService',
} as const;

let a: Platform | undefined;
let b: Platform | undefined;
afterAll(async () => {
  await Promise.all([a?.stop(), b?.stop()]);
});

test('two platforms started at once: distinct ports, each address serves its own service, restart keeps the address', async () => {
  [a, b] = await Promise.all([startPlatform({ services: ['queue', 'analytics'] }), startPlatform({ services: ['queue', 'analytics'] })]);
  const addresses = [a.addresses.queue, a.addresses.analytics, b.addresses.queue, b.addresses.analytics];
  expect(new Set(addresses).size).toBe(4);
  for (const p of [a, b]) {
    expect(p.addresses.queue).toMatch(/^127\.0\.0\.1:[1-9]\d*$/);
    expect(p.services.queue.env.GRPC_PORT).toBe(String(p.services.queue.port));
    await expect(healthCheck(p.addresses.queue, NAMES.queue)).resolves.toBe('SERVING');
    await expect(healthCheck(p.addresses.analytics, NAMES.analytics)).resolves.toBe('SERVING');
    // The other service's name is unknown there: the address is not someone else's server.
    await expect(healthCheck(p.addresses.queue, NAMES.analytics)).rejects.toMatchObject({ code: 5 });
  }

  const before = a.addresses.queue;
  await a.kill('queue');
  await expect(healthCheck(before, NAMES.queue)).rejects.toBeTruthy();
  await a.restart('queue');
  expect(a.services.queue.address).toBe(before);
  await expect(healthCheck(before, NAMES.queue)).resolves.toBe('SERVING');
  expect(a.output('queue').match(/gRPC server listening/g)).toHaveLength(2);
});

test('a LOG_LEVEL that hides the info lines the harness reads is refused before any service starts, naming the setting', async () => {
  // (Not "was not listening within 60000 ms": the refusal comes before the launch.)
  await expect(startPlatform({ services: ['queue'], env: { LOG_LEVEL: 'warn' } })).rejects.toThrow(/^startPlatform reads each service's port .* LOG_LEVEL of queue must be info, debug or trace, not warn$/);
});

test('spawnPostgres on a port another PostgreSQL already holds fails, instead of handing out that server', async () => {
  // The shared server (PG_ADMIN_URL, else 5432) lets postgres in here: before the data-folder
  // check, a start on its port "succeeded" with someone else's server.
  const shared = new URL(process.env.PG_ADMIN_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres');
  await expect(spawnPostgres({ port: Number(shared.port || 5432) })).rejects.toThrow(/exited at start; log: .*(could not bind|already in use)/s);
});
