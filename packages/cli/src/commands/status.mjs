// `npm run status`: asks each service on its port for its health and, through server
// reflection, which gRPC services it serves (the same list `grpcurl -plaintext host:port list` prints).
import { install } from '../setup.mjs';
import { SERVICES } from '../services.mjs';
import { printTable } from '../log.mjs';
import { healthStatus, listServices } from '../health.mjs';
import { portFromEnv } from '../net.mjs';

export async function status() {
  await install();
  const host = process.env.PM_HOST ?? '127.0.0.1';
  const rows = await Promise.all(
    SERVICES.map(async (s) => {
      const address = `${host}:${portFromEnv(s.portEnv, s.defaultPort)}`;
      const health = (await healthStatus(address)) ?? 'not answering';
      const names = health === 'not answering' ? [] : ((await listServices(address)) ?? []);
      return [s.name, address, health, names.filter((n) => !n.startsWith('grpc.')).join(', ') || '-'];
    }),
  );
  printTable([['service', 'address', 'health', 'gRPC services (reflection)'], ...rows]);
  return rows.every((r) => r[2] === 'SERVING') ? 0 : 1;
}
