import { randomBytes } from 'node:crypto';
import { jetstreamManager } from '@nats-io/jetstream';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { EventNames } from '@penguinmails/service-kit';

export function natsUrl(): string {
  return process.env.NATS_URL ?? 'nats://127.0.0.1:4222';
}

export interface NatsTestContext {
  url: string;
  nc: NatsConnection;
  /** Unique per context: subjects `t<id>.<tier>.…`, streams `T<ID>_<TIER>`. */
  names: EventNames;
  subjectPrefix: string;
  streamPrefix: string;
  /** Deletes every stream of this context and closes the connection. */
  cleanup(): Promise<void>;
}

/**
 * Isolated JetStream names for one test file on the shared NATS server, so test files run
 * in parallel without seeing each other's events.
 */
export async function natsTestContext(url: string = natsUrl()): Promise<NatsTestContext> {
  const id = randomBytes(5).toString('hex');
  const subjectPrefix = `t${id}`;
  const streamPrefix = `T${id.toUpperCase()}`;
  const u = new URL(url);
  // Reconnects for ever: a test that restarts its own nats-server still cleans up after it.
  const nc = await connect({ servers: `${u.hostname}:${u.port || 4222}`, name: `test-${id}`, maxReconnectAttempts: -1, reconnectTimeWait: 500 });
  return {
    url,
    nc,
    names: new EventNames(subjectPrefix, streamPrefix),
    subjectPrefix,
    streamPrefix,
    cleanup: async () => {
      const jsm = await jetstreamManager(nc);
      for await (const name of jsm.streams.names()) {
        if (name.startsWith(streamPrefix + '_')) await jsm.streams.delete(name).catch(() => undefined);
      }
      await nc.close();
    },
  };
}
