// The launcher behind the root package.json scripts (scripts/platform.mjs calls run()).
// Only Node built-ins are imported at load time: this runs on a fresh clone before any install.
import { UserError, asError } from './errors.mjs';
import { sayError } from './log.mjs';
import { stopInfra } from './infra.mjs';
import { installSignalHandlers } from './lifetime.mjs';

const USAGE = `usage: node scripts/platform.mjs <command>
  start           install, build, migrate and run the four services (Ctrl-C stops them)
  test [pkg...]   the same set-up, then every test; ends with "N passed, N failed, N skipped"
  migrate         apply every service's migrations
  turbo <task>    run a turbo task (generate, build, lint, ...) after installing
  bench [args]    run the benchmarks against the same servers as the tests
  status          health and reflection listing of each running service (like grpcurl list)

settings (all optional):
  PM_POSTGRES_URL   admin URL of a PostgreSQL server (default: 127.0.0.1:5432, else embedded)
  NATS_URL          NATS server with JetStream (default: 127.0.0.1:4222, else a spawned nats-server)
  CLICKHOUSE_URL    ClickHouse HTTP URL (default: chDB embedded in the analytics service)
  PM_METADATA_PORT, PM_CONTENT_PORT, PM_QUEUE_PORT, PM_ANALYTICS_PORT   gRPC ports (50051-50054)
  PM_GRPC_HOST      interface the services listen on (default 127.0.0.1)
  PM_EMBEDDED_PG_PORT, PM_NATS_PORT   ports of the servers we start (default 54329, 4222 or next free)
  PM_SKIP_BUILD=1   skip install and build (use what is built)
  PM_EMBEDDED=1     ignore local servers, start our own (or a list: postgres,nats)`;

const COMMANDS = {
  start: async (args, hooks) => (await import('./commands/start.mjs')).start(args, hooks),
  test: async (args) => (await import('./commands/test.mjs')).test(args),
  migrate: async () => (await import('./commands/migrate.mjs')).migrate(),
  turbo: async (args) => (await import('./commands/other.mjs')).turboTask(args),
  bench: async (args) => (await import('./commands/other.mjs')).bench(args),
  status: async () => (await import('./commands/status.mjs')).status(),
};

export async function run(argv) {
  const [command, ...args] = argv;
  if (!command || command === 'help' || command === '--help' || command === '-h') {
    process.stdout.write(USAGE + '\n');
    return command ? 0 : 1;
  }
  const fn = COMMANDS[command];
  if (!fn) {
    sayError(`unknown command "${command}"`);
    process.stdout.write(USAGE + '\n');
    return 1;
  }
  const hooks = installSignalHandlers();
  try {
    return await fn(args, hooks);
  } catch (thrown) {
    const err = asError(thrown);
    if (err instanceof UserError) {
      sayError(err.message);
      return 1;
    }
    throw err; // a launcher bug: keep the stack
  } finally {
    await stopInfra();
  }
}
