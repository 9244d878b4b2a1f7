// Finds or starts the servers the platform needs, with the same rules for every command:
// a configured URL wins; else a server on the usual local port; else one we start in .data/.
// PM_EMBEDDED skips the local probe (1/all, or a list: postgres,nats) to exercise our own servers.
import { UserError, asError } from './errors.mjs';
import { parseUrl } from './net.mjs';
import { resolvePostgres } from './postgres.mjs';
import { resolveNats } from './nats.mjs';
import { DATA_DIR } from './setup.mjs';
import path from 'node:path';

/** What stopInfra() stops, last first: { name (null for a server we did not start), stop }. */
const stops = [];

/** Registers a server to stop on the way out; `name` is printed in npm start's last line. */
export function trackServer(name, stop) {
  stops.push({ name, stop });
}

function forced(what) {
  const raw = (process.env.PM_EMBEDDED ?? '').toLowerCase();
  if (['1', 'true', 'all', 'yes'].includes(raw)) return true;
  return raw.split(',').map((s) => s.trim()).includes(what);
}

/** ClickHouse: a configured server must answer its /ping; otherwise chDB in-process. */
async function resolveClickhouse() {
  const configured = process.env.CLICKHOUSE_URL;
  const chdbPath = path.join(DATA_DIR, 'chdb');
  if (!configured) return { url: null, chdbPath, origin: 'chDB (embedded in the analytics service)' };
  const url = parseUrl(configured, 'CLICKHOUSE_URL', ['http:', 'https:']);
  const ping = new URL('/ping', url.origin);
  try {
    const response = await fetch(ping, { signal: AbortSignal.timeout(5000) });
    if (!response.ok) throw new Error(`HTTP ${response.status}`);
  } catch (thrown) {
    const err = asError(thrown);
    throw new UserError(`no ClickHouse server answers at ${url.host} (check CLICKHOUSE_URL): ${err.cause?.code ?? err.message}`);
  }
  return { url: configured, chdbPath: null, origin: 'CLICKHOUSE_URL' };
}

/**
 * Resolves PostgreSQL, NATS and ClickHouse. Servers we start are stopped by stopInfra(), in the
 * reverse order, so call it on every way out.
 */
export async function resolveInfra({ nats: needNats = true } = {}) {
  const clickhouse = await resolveClickhouse(); // cheapest check first: a bad URL fails fast
  const postgres = await resolvePostgres({ forceEmbedded: forced('postgres') });
  trackServer(postgres.started ? 'postgres' : null, postgres.stop);
  // Migrations need the databases only: `npm run migrate` does not start a nats-server.
  if (!needNats) return { postgres, nats: undefined, clickhouse };
  const nats = await resolveNats({ forceSpawn: forced('nats') });
  trackServer(nats.started ? 'nats' : null, nats.stop);
  return { postgres, nats, clickhouse };
}

/** Stops the servers we started, in the reverse order; returns their names. */
export async function stopInfra() {
  const stopped = [];
  while (stops.length) {
    const { name, stop } = stops.pop();
    await stop().catch(() => {});
    if (name) stopped.unshift(name);
  }
  return stopped;
}
