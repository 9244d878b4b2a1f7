// Waits for a service's standard gRPC health check (grpc.health.v1.Health/Check) to say SERVING.
// Loaded lazily: @grpc/grpc-js and grpc-health-check exist only after the install step.
import { loadDep } from './deps.mjs';
import { sleep } from './net.mjs';

let HealthClient;

function healthClient(address) {
  const grpc = loadDep('@grpc/grpc-js');
  if (!HealthClient) HealthClient = grpc.makeClientConstructor(loadDep('grpc-health-check').service, 'Health');
  return new HealthClient(address, grpc.credentials.createInsecure());
}

function check(client) {
  return new Promise((resolve) => {
    // service '' asks about the server as a whole.
    client.check({ service: '' }, { deadline: Date.now() + 1000 }, (err, reply) => resolve(err ? null : reply.status));
  });
}

/**
 * Polls until SERVING. Stops early (returns false) when `gaveUp()` says the process died or the
 * time is out, so the caller can name the service that failed.
 */
export async function waitServing(address, gaveUp) {
  const client = healthClient(address);
  try {
    for (;;) {
      const status = await check(client);
      if (status === 'SERVING' || status === 1) return true;
      if (gaveUp()) return false;
      await sleep(300);
    }
  } finally {
    client.close();
  }
}
