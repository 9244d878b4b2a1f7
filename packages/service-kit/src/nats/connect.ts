import { connect, type NatsConnection } from '@nats-io/transport-node';
import type { Logger } from 'pino';
import { redact, redactText } from '../redact';

export type { NatsConnection } from '@nats-io/transport-node';

export interface ConnectNatsOptions {
  url: string;
  /** Connection name shown by `nats server report connections`. */
  name: string;
  logger?: Logger;
  /** Initial connection attempts before giving up (a rolling restart of NATS takes seconds). */
  attempts?: number;
  /** Delay between initial attempts. */
  delayMs?: number;
}

/**
 * Connects with retry at start-up, then lets nats.js reconnect forever. Gives up with one
 * clear message naming the URL, so a wrong NATS_URL is a one-line fix, not a stack trace. The
 * URL is only ever shown redacted: NATS credentials travel in it (`nats://user:pass@host`).
 */
export async function connectNats(opts: ConnectNatsOptions): Promise<NatsConnection> {
  const attempts = opts.attempts ?? 10;
  const u = new URL(opts.url);
  const shown = redact(opts.url);
  let lastErr: unknown;
  for (let i = 1; i <= attempts; i++) {
    try {
      const nc = await connect({
        servers: `${u.hostname}:${u.port || 4222}`,
        name: opts.name,
        user: u.username ? decodeURIComponent(u.username) : undefined,
        pass: u.password ? decodeURIComponent(u.password) : undefined,
        maxReconnectAttempts: -1,
        reconnectTimeWait: 1_000,
        timeout: 5_000,
        // nats.js builds an Error per request and publish up front (RequestError, TimeoutError:
        // each captures a stack) so that a later timeout can say where the call began. That was
        // a tenth of a JetStream consumer bench's samples. Off: 24-29 instead of 35-49 µs of CPU
        // per JetStream publish, 31,000-36,000 instead of 22,000-28,000 publishes/s (16 in
        // flight, alternated, 2 rounds; bench/README.md "NATS publishes without async traces").
        // Errors keep their message and cause; our logs never printed those stacks.
        noAsyncTraces: true,
      });
      void (async () => {
        for await (const s of nc.status()) {
          if (s.type === 'disconnect' || s.type === 'reconnect' || s.type === 'error')
            opts.logger?.warn({ status: s.type }, 'NATS connection status');
        }
      })().catch(() => undefined);
      return nc;
    } catch (err) {
      lastErr = err;
      opts.logger?.warn({ attempt: i, attempts, url: shown, err: redactText(String((err as Error)?.message ?? err)) }, 'NATS not reachable yet');
      if (i < attempts) await new Promise((r) => setTimeout(r, opts.delayMs ?? 1_000));
    }
  }
  throw new Error(
    `NATS at ${shown} did not answer after ${attempts} attempts (${redactText(String((lastErr as Error)?.message ?? lastErr))}); start nats-server with JetStream (-js) or set NATS_URL`,
    { cause: lastErr },
  );
}
