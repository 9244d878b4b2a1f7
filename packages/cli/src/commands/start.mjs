// `npm start`: set-up, migrations, then the four services in the foreground until Ctrl-C.
import fs from 'node:fs';
import path from 'node:path';
import { UserError } from '../errors.mjs';
import { say, printTable, redact } from '../log.mjs';
import { portFromEnv, requireFreePort } from '../net.mjs';
import { SERVICES, serviceDir, serviceEntry, storeEnv } from '../services.mjs';
import { install, build, ROOT, DATA_DIR } from '../setup.mjs';
import { resolveInfra } from '../infra.mjs';
import { startService, stopServices } from '../children.mjs';
import { listServices, waitServing } from '../health.mjs';
import { serviceDatabases, migrateAll } from './migrate.mjs';

const READY_TIMEOUT_MS = 90_000;

/** Ports first: a clash should fail before anything slow happens. */
async function servicePorts() {
  const ports = new Map();
  for (const service of SERVICES) {
    const port = portFromEnv(service.portEnv, service.defaultPort);
    await requireFreePort(port, `the ${service.name} service`, service.portEnv);
    ports.set(service.name, port);
  }
  return ports;
}

async function printReady(ports, infra) {
  process.stdout.write('\n');
  // Asked of each running service through server reflection, as `grpcurl list` would.
  const served = await Promise.all(SERVICES.map((s) => listServices(`127.0.0.1:${ports.get(s.name)}`)));
  printTable([
    ['service', 'gRPC address', 'serves (reflection)'],
    ...SERVICES.map((s, i) => [s.name, `localhost:${ports.get(s.name)}`, (served[i] ?? []).filter((n) => !n.startsWith('grpc.')).join(', ') || '-']),
  ]);
  process.stdout.write('\n');
  printTable([
    ['store', 'where', 'from'],
    ['postgres', redact(infra.postgres.adminUrl), infra.postgres.origin],
    ['nats', redact(infra.nats.url), infra.nats.origin],
    ['clickhouse', infra.clickhouse.url ? redact(infra.clickhouse.url) : infra.clickhouse.chdbPath, infra.clickhouse.origin],
    ['data folder', DATA_DIR, 'embedded servers and chDB keep their data here'],
  ]);
  process.stdout.write(`\nTry: grpcurl -plaintext localhost:${ports.get('metadata')} list\nCtrl-C stops everything.\n\n`);
}

/** Resolves with the service that exits first (any exit while running is a failure). */
function firstExit(services) {
  return Promise.race(services.map((s) => s.exited));
}

function describeExit(service) {
  const { code, signal, err } = service.exit;
  if (err) return `could not start: ${err.message}`;
  return signal ? `was killed by ${signal}` : `exited with code ${code}`;
}

/**
 * @param {{ onSignal: (handler: (signal: string) => void) => void }} hooks lets main.mjs route
 *   SIGINT/SIGTERM here while the services run.
 */
export async function start(_args, hooks) {
  const ports = await servicePorts();
  await install();
  const infra = await resolveInfra(); // before the build: a bad URL should not wait for it
  await build();
  for (const service of SERVICES) {
    if (!fs.existsSync(serviceEntry(service, 'main.js'))) {
      throw new UserError(`${path.relative(ROOT, serviceEntry(service, 'main.js'))} not found after the build`);
    }
  }
  const databaseUrls = await serviceDatabases(infra);
  await migrateAll(infra, databaseUrls, { skipMissing: true });
  await servicePorts(); // again: the build and migrations took a while

  const width = Math.max(...SERVICES.map((s) => s.name.length));
  const services = SERVICES.map((service, index) => startService({
    name: service.name,
    entry: serviceEntry(service, 'main.js'),
    cwd: serviceDir(service),
    width,
    index,
    env: {
      ...process.env,
      NODE_ENV: 'development',
      // Development runs with auth off unless AUTH_TOKENS is set: listen on loopback only,
      // unless the user asks for another interface (PM_GRPC_HOST=0.0.0.0).
      GRPC_HOST: process.env.PM_GRPC_HOST ?? '127.0.0.1',
      GRPC_PORT: String(ports.get(service.name)),
      ...(process.stdout.isTTY ? { LOG_PRETTY: 'true' } : {}),
      ...storeEnv(service, infra, databaseUrls),
    },
  }));

  // Ctrl-C / SIGTERM: main.mjs routes signals here. The first one starts a graceful stop;
  // a second one does not wait for the grace period.
  let signalled = null;
  let onStopRequest;
  const stopRequested = new Promise((resolve) => { onStopRequest = resolve; });
  hooks.onSignal((signal) => {
    if (signalled) { for (const s of services) if (!s.exit) s.child.kill('SIGKILL'); return; }
    signalled = signal;
    onStopRequest(null);
  });

  const deadline = Date.now() + READY_TIMEOUT_MS;
  const ready = await Promise.all(services.map((s) => waitServing(`127.0.0.1:${ports.get(s.name)}`, () => Boolean(s.exit || signalled) || Date.now() > deadline)));
  const failure = signalled ? null : readinessFailure(services, ready);
  if (signalled || failure) {
    say(`${signalled ? `got ${signalled}` : failure}: stopping the services`);
    await stopServices(services);
    if (failure) throw new UserError(failure);
    return 0;
  }
  await printReady(ports, infra);

  // Run until a signal, or until a service exits on its own (always a failure while running).
  const exitedFirst = await Promise.race([firstExit(services), stopRequested]);
  say(`${exitedFirst ? `${exitedFirst.name} stopped` : `got ${signalled}`}: stopping the services`);
  await stopServices(services);
  if (exitedFirst) throw new UserError(`service ${exitedFirst.name} ${describeExit(exitedFirst)}; everything was stopped`);
  return 0;
}

function readinessFailure(services, ready) {
  const died = services.find((s) => s.exit);
  if (died) return `service ${died.name} ${describeExit(died)} before it was ready; see its output above`;
  const slow = services.find((_, i) => !ready[i]);
  if (slow) return `service ${slow.name} did not report SERVING on grpc.health.v1 within ${READY_TIMEOUT_MS / 1000} s`;
  return null;
}
