// `npm start`: set-up, migrations, then the four services in the foreground until Ctrl-C.
import fs from 'node:fs';
import path from 'node:path';
import { UserError } from '../errors.mjs';
import { say, printTable, redact } from '../log.mjs';
import { portFromEnv, requireFreePort } from '../net.mjs';
import { SERVICES, serviceDir, serviceEntry, storeEnv } from '../services.mjs';
import { install, build, ROOT, DATA_DIR, STACK_FILE } from '../setup.mjs';
import { resolveInfra, stopInfra } from '../infra.mjs';
import { runServices, stoppedLine } from '../supervisor.mjs';
import { listServices, waitServing } from '../health.mjs';
import { serviceDatabases, migrateAll } from './migrate.mjs';
import { removeStackFile, writeStackFile } from '../stack-file.mjs';

const READY_TIMEOUT_MS = 90_000;

/**
 * A service's METRICS_PORT. Not checked for being free: a metrics port in use is one warning
 * line from the service, which serves on without /metrics (the service kit's rule).
 */
const metricsPortOf = (service) => portFromEnv(service.metricsPortEnv, service.defaultMetricsPort);

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
    ['service', 'gRPC address', 'metrics', 'serves (reflection)'],
    ...SERVICES.map((s, i) => [
      s.name,
      `localhost:${ports.get(s.name)}`,
      `http://localhost:${metricsPortOf(s)}/metrics`,
      (served[i] ?? []).filter((n) => !n.startsWith('grpc.')).join(', ') || '-',
    ]),
  ]);
  process.stdout.write('\n');
  printTable([
    ['store', 'where', 'from'],
    ['postgres', redact(infra.postgres.adminUrl), infra.postgres.origin],
    ['nats', redact(infra.nats.url), infra.nats.origin],
    ['clickhouse', infra.clickhouse.url ? redact(infra.clickhouse.url) : infra.clickhouse.chdbPath, infra.clickhouse.origin],
    ['data folder', DATA_DIR, 'embedded servers and chDB keep their data here'],
  ]);
  process.stdout.write(`\nTry: npm run pm -- status   (or grpcurl -plaintext localhost:${ports.get('metadata')} list)\nCtrl-C stops everything.\n\n`);
}

/**
 * @param {{ onSignal: (handler: (reason: string) => void) => void }} hooks lets lifetime.mjs route
 *   stop requests (SIGINT, SIGTERM, SIGHUP, the parent gone) here while the services run.
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
  const specs = SERVICES.map((service, index) => ({
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
      METRICS_PORT: String(metricsPortOf(service)),
      // metadata's IngestMessage stores bodies through the content service.
      ...(service.name === 'metadata' ? { CONTENT_URL: `127.0.0.1:${ports.get('content')}` } : {}),
      ...(process.stdout.isTTY ? { LOG_PRETTY: 'true' } : {}),
      ...storeEnv(service, infra, databaseUrls),
    },
  }));

  try {
    // Until Ctrl-C, SIGTERM or the launcher's parent going away (lifetime.mjs routes them here).
    // A service that exits on its own meanwhile is restarted with backoff (supervisor.mjs); one
    // that exits or is not SERVING at start-up fails the start, as it would only crash-loop.
    await runServices({
      specs,
      hooks,
      waitReady: (s, gaveUp) => waitServing(`127.0.0.1:${ports.get(s.name)}`, gaveUp),
      readyTimeoutMs: READY_TIMEOUT_MS,
      readiness: 'SERVING on grpc.health.v1',
      onReady: async () => {
        // Published once every service is SERVING, so a reader never finds a half-started stack.
        const host = process.env.PM_GRPC_HOST && process.env.PM_GRPC_HOST !== '0.0.0.0' ? process.env.PM_GRPC_HOST : '127.0.0.1';
        writeStackFile(STACK_FILE, { services: Object.fromEntries(SERVICES.map((s) => [s.name, `${host}:${ports.get(s.name)}`])) });
        await printReady(ports, infra);
      },
    });
  } finally {
    removeStackFile(STACK_FILE);
    // Services are stopped by now; the servers they used go next, then one line says it is over.
    const servers = await stopInfra();
    say(stoppedLine(specs.length, servers));
  }
  return 0;
}
