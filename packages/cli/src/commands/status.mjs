// `npm run status`: asks each service on its port for its health and, through server
// reflection, which gRPC services it serves (the same list `grpcurl -plaintext host:port list` prints).
import { install, STACK_FILE } from '../setup.mjs';
import { SERVICES } from '../services.mjs';
import { printTable, say } from '../log.mjs';
import { healthStatus, listServices } from '../health.mjs';
import { portFromEnv } from '../net.mjs';
import { readStackFile, resolveAddresses } from '../stack-file.mjs';

/** Does a GET of `url` answer 200 within a second? */
async function answers(url) {
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(1000) });
    await res.arrayBuffer();
    return res.ok;
  } catch {
    return false;
  }
}

export async function status() {
  await install();
  const host = process.env.PM_HOST ?? '127.0.0.1';
  // The ports of a running `npm start` (.data/stack.json); the defaults only without one.
  const discovery = readStackFile(STACK_FILE, SERVICES.map((s) => s.name));
  const { addresses, note } = resolveAddresses({ services: SERVICES, discovery, env: process.env, host, portFromEnv });
  say(note);
  const rows = await Promise.all(
    SERVICES.map(async (s) => {
      const address = addresses[s.name];
      const health = (await healthStatus(address)) ?? 'not answering';
      const names = health === 'not answering' ? [] : ((await listServices(address)) ?? []);
      // npm start gives each service METRICS_PORT (PM_<SERVICE>_METRICS_PORT, default 946x).
      const metricsUrl = `http://${host}:${portFromEnv(s.metricsPortEnv, s.defaultMetricsPort)}/metrics`;
      const metrics = (await answers(metricsUrl)) ? metricsUrl : 'not answering';
      return [s.name, address, health, metrics, names.filter((n) => !n.startsWith('grpc.')).join(', ') || '-'];
    }),
  );
  printTable([['service', 'address', 'health', 'metrics', 'gRPC services (reflection)'], ...rows]);
  return rows.every((r) => r[2] === 'SERVING') ? 0 : 1;
}
