// The small commands: `turbo <task>` (generate, build, lint ... after an install) and `bench`.
import { install, build, turbo, runPnpm, toolEnv } from '../setup.mjs';
import { resolveInfra } from '../infra.mjs';

/** `node scripts/platform.mjs turbo <task> [turbo args]`: no servers needed, just the tools. */
export async function turboTask(args) {
  const [task, ...rest] = args;
  if (!task) {
    const { UserError } = await import('../errors.mjs');
    throw new UserError('usage: node scripts/platform.mjs turbo <task> [turbo args]');
  }
  await install();
  return turbo(task, rest);
}

/** `npm run bench -- <args>`: the bench package with the same servers the tests use. */
export async function bench(args) {
  await install();
  const infra = await resolveInfra();
  await build();
  return runPnpm(['--filter', '@penguinmails/bench', 'run', 'bench', ...(args.length ? ['--', ...args] : [])], {
    env: toolEnv({ PG_ADMIN_URL: infra.postgres.adminUrl, NATS_URL: infra.nats.url, ...(infra.clickhouse.url ? { CLICKHOUSE_URL: infra.clickhouse.url } : {}) }),
  });
}
