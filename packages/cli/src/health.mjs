// Waits for a service's standard gRPC health check (grpc.health.v1.Health/Check) to say SERVING.
// Loaded lazily: @grpc/grpc-js and grpc-health-check exist only after the install step.
import { loadDep, requireFromCli } from './deps.mjs';
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

/**
 * What `grpcurl -plaintext <address> list` prints, through server reflection (grpc.reflection.v1):
 * the launcher and `status` use it to show that each service serves its contract.
 */
export function listServices(address) {
  const grpc = loadDep('@grpc/grpc-js');
  const protoLoader = loadDep('@grpc/proto-loader');
  const protoPath = requireFromCli.resolve('@grpc/reflection/build/proto/grpc/reflection/v1/reflection.proto');
  const pkg = grpc.loadPackageDefinition(protoLoader.loadSync(protoPath));
  const client = new pkg.grpc.reflection.v1.ServerReflection(address, grpc.credentials.createInsecure());
  return new Promise((resolve) => {
    const call = client.ServerReflectionInfo({ deadline: Date.now() + 3000 });
    const done = (names) => {
      client.close();
      resolve(names);
    };
    call.on('data', (res) => {
      done((res.listServicesResponse?.service ?? []).map((s) => s.name).sort());
      call.end();
    });
    call.on('error', () => done(null));
    call.write({ listServices: '*' });
  });
}

/** One health check: 'SERVING', 'NOT_SERVING', ... or null when nothing answers. */
export async function healthStatus(address) {
  const client = healthClient(address);
  try {
    const s = await check(client);
    return s === 1 ? 'SERVING' : s === 2 ? 'NOT_SERVING' : s;
  } finally {
    client.close();
  }
}
