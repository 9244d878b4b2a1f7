// Small network checks with Node built-ins only: is a port free, does something answer on it,
// is a URL well formed. Every failure becomes a UserError that names the setting to change.
import net from 'node:net';
import { UserError } from './errors.mjs';
import { redact } from './log.mjs';

/** True when nothing listens on host:port (we can bind it ourselves). */
export function isPortFree(port, host = '127.0.0.1') {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.once('error', () => resolve(false));
    server.listen({ port, host, exclusive: true }, () => server.close(() => resolve(true)));
  });
}

/**
 * Checks a port on both IPv4 and the wildcard address: a service binding 0.0.0.0 or [::] would
 * clash with a listener on either.
 */
export async function isPortFreeEverywhere(port) {
  return (await isPortFree(port, '127.0.0.1')) && (await isPortFree(port, '0.0.0.0'));
}

/** Fails with one line naming `envVar` when the port is taken. */
export async function requireFreePort(port, what, envVar) {
  if (!(await isPortFreeEverywhere(port))) {
    throw new UserError(`port ${port} (${what}) is already in use: stop whatever listens there or set ${envVar} to another port`);
  }
}

/** The first free port from `start`, trying `tries` ports in a row. */
export async function firstFreePort(start, tries, what, envVar) {
  for (let port = start; port < start + tries; port += 1) {
    if (await isPortFreeEverywhere(port)) return port;
  }
  throw new UserError(`no free port for ${what} in ${start}-${start + tries - 1}: set ${envVar} to a free port`);
}

/** Reads a port from an env var, or the default; a bad value is a UserError. */
export function portFromEnv(envVar, fallback) {
  const raw = process.env[envVar];
  if (raw === undefined || raw === '') return fallback;
  const port = Number(raw);
  if (!Number.isInteger(port) || port < 1 || port > 65535) {
    throw new UserError(`${envVar}=${raw} is not a port number (1-65535)`);
  }
  return port;
}

/**
 * Connects to host:port and resolves with the first chunk the server sends (or '' if it sends
 * nothing within the timeout); rejects when the connection fails.
 */
export function tcpGreeting(host, port, timeoutMs = 2000) {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host, port });
    let greeting = '';
    const done = (fn, value) => {
      socket.destroy();
      clearTimeout(timer);
      fn(value);
    };
    const timer = setTimeout(() => done(resolve, greeting), timeoutMs);
    socket.on('data', (chunk) => {
      greeting += chunk.toString('utf8');
      if (greeting.includes('\n')) done(resolve, greeting);
    });
    socket.on('error', (err) => done(reject, err));
  });
}

/** True when a TCP connection to host:port succeeds. */
export async function tcpAnswers(host, port, timeoutMs = 1000) {
  try {
    await new Promise((resolve, reject) => {
      const socket = net.connect({ host, port, timeout: timeoutMs });
      socket.once('connect', () => { socket.destroy(); resolve(); });
      socket.once('timeout', () => { socket.destroy(); reject(new Error('timeout')); });
      socket.once('error', reject);
    });
    return true;
  } catch {
    return false;
  }
}

/** Parses a URL from an env var and checks its scheme; a bad value is a UserError. */
export function parseUrl(value, envVar, schemes) {
  let url;
  try {
    url = new URL(value);
  } catch {
    throw new UserError(`${envVar} is not a valid URL: "${redact(value)}" (expected e.g. ${schemes[0]}//host:port)`);
  }
  if (!schemes.includes(url.protocol)) {
    throw new UserError(`${envVar} must start with ${schemes.map((s) => s + '//').join(' or ')}, got "${url.protocol}//"`);
  }
  if (!url.hostname) throw new UserError(`${envVar} has no host: "${redact(value)}"`);
  return url;
}

export const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
