import { AckPolicy, DeliverPolicy, jetstreamManager, type ConsumerConfig, type StreamConfig } from '@nats-io/jetstream';
import { nanos, type NatsConnection } from '@nats-io/transport-node';
import { DEFAULT_EVENTS_MAX_AGE_MS } from '../config';
import type { Tier } from '../events';

/**
 * Creates the stream, or updates it to the given subjects/limits when it exists: safe to call
 * from every replica at every start. Every stream gets an age limit (`maxAgeMs`, default
 * {@link DEFAULT_EVENTS_MAX_AGE_MS}): events carry personal data, which must not stay in the
 * broker for ever. `maxBytes` optionally caps its size (oldest events are discarded first).
 */
export async function ensureStream(
  nc: NatsConnection,
  cfg: { name: string; subjects: string[]; duplicateWindowMs: number; maxAgeMs?: number; maxBytes?: number; replicas?: number },
): Promise<void> {
  const maxAgeMs = cfg.maxAgeMs ?? DEFAULT_EVENTS_MAX_AGE_MS;
  // nats-server refuses this too, but its message names neither setting.
  if (cfg.duplicateWindowMs > maxAgeMs)
    throw new Error(`stream ${cfg.name}: the duplicate window (${cfg.duplicateWindowMs} ms) must not exceed the max age (${maxAgeMs} ms); check EVENTS_DUPLICATE_WINDOW_MS and EVENTS_MAX_AGE_MS`);
  const jsm = await jetstreamManager(nc);
  const want: Partial<StreamConfig> & { name: string } = {
    name: cfg.name,
    subjects: cfg.subjects,
    duplicate_window: nanos(cfg.duplicateWindowMs),
    max_age: nanos(maxAgeMs),
    max_bytes: cfg.maxBytes ?? -1,
    num_replicas: cfg.replicas ?? 1,
  };
  try {
    const info = await jsm.streams.info(cfg.name);
    const c = info.config;
    // Without an explicit `replicas`, an existing stream keeps its own: an update of another
    // limit must not ask a NATS cluster to shrink an R3 stream (set by its owner tier's
    // EVENTS_STREAM_REPLICAS or by an operator) back to R1.
    if (cfg.replicas === undefined) want.num_replicas = c.num_replicas;
    const same =
      c.duplicate_window === want.duplicate_window &&
      c.max_age === want.max_age &&
      c.max_bytes === want.max_bytes &&
      c.num_replicas === want.num_replicas &&
      JSON.stringify([...(c.subjects ?? [])].sort()) === JSON.stringify([...cfg.subjects].sort());
    // nats-server (2.9 tested) changes max_age, max_bytes, duplicate_window, subjects and (in a
    // cluster) num_replicas of a live stream; it refuses changes of storage or retention type,
    // which we never make.
    if (!same) await jsm.streams.update(cfg.name, { ...c, ...want } as StreamConfig);
  } catch (err) {
    if (!/stream not found/i.test((err as Error).message)) throw err;
    for (let attempt = 1; ; attempt++) {
      try {
        await jsm.streams.add(want);
        return;
      } catch (addErr) {
        const message = (addErr as Error).message;
        // Another replica created it between our info and add: fine.
        if (/already in use|already exists/i.test(message)) return;
        // nats-server removes a deleted stream's files asynchronously; re-creating the same
        // name right after a delete can fail with this until it has. Seen on 2.9.
        if (!/error creating store/i.test(message) || attempt >= 10) throw addErr;
        await new Promise((r) => setTimeout(r, 100 * attempt));
      }
    }
  }
}

/** A durable pull consumer with explicit acks, created or updated idempotently. */
export async function ensureConsumer(
  nc: NatsConnection,
  stream: string,
  cfg: { durable: string; filterSubjects?: string[]; ackWaitMs?: number; maxDeliver?: number } & Partial<ConsumerConfig>,
): Promise<void> {
  const jsm = await jetstreamManager(nc);
  const { durable, filterSubjects, ackWaitMs, maxDeliver, ...rest } = cfg;
  const config: Partial<ConsumerConfig> = {
    durable_name: durable,
    ack_policy: AckPolicy.Explicit,
    deliver_policy: DeliverPolicy.All,
    ack_wait: nanos(ackWaitMs ?? 30_000),
    max_deliver: maxDeliver ?? -1,
    ...(filterSubjects?.length === 1 ? { filter_subject: filterSubjects[0] } : {}),
    ...(filterSubjects && filterSubjects.length > 1 ? { filter_subjects: filterSubjects } : {}),
    ...rest,
  };
  try {
    await jsm.consumers.info(stream, durable);
    await jsm.consumers.update(stream, durable, config);
  } catch (err) {
    if (!/consumer not found/i.test((err as Error).message)) throw err;
    await jsm.consumers.add(stream, config);
  }
}

/** The stream settings a consumer uses when it creates another tier's stream (ensureConsumerOnTier). */
export type TierStreamSettings = { EVENTS_DUPLICATE_WINDOW_MS: number; EVENTS_MAX_AGE_MS?: number; EVENTS_MAX_BYTES?: number };

/**
 * Declares a durable consumer on another tier's stream (`tier`'s, named by `names`). The stream
 * is created with the kit's settings only when its owner has not started yet (either tier may
 * start first); an existing one is left as its owner configured it (its limits are the owner's
 * EVENTS_* settings, not this consumer's). Idempotent: every replica calls it at every start.
 */
export async function ensureConsumerOnTier(
  nc: NatsConnection,
  names: { stream(tier: Tier): string; tierSubjects(tier: Tier): string },
  tier: Tier,
  s: TierStreamSettings,
  consumer: Parameters<typeof ensureConsumer>[2],
): Promise<void> {
  const stream = names.stream(tier);
  const jsm = await jetstreamManager(nc);
  const exists = await jsm.streams.info(stream).then(
    () => true,
    (err: Error) => {
      if (/stream not found/i.test(err.message)) return false;
      throw err;
    },
  );
  if (!exists) {
    await ensureStream(nc, {
      name: stream,
      subjects: [names.tierSubjects(tier)],
      duplicateWindowMs: s.EVENTS_DUPLICATE_WINDOW_MS,
      maxAgeMs: s.EVENTS_MAX_AGE_MS,
      maxBytes: s.EVENTS_MAX_BYTES,
    });
  }
  await ensureConsumer(nc, stream, consumer);
}
