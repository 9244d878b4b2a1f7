import { randomUUID } from 'node:crypto';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { commonV1 } from '@penguinmails/contracts';
import { DEFAULT_EVENTS_MAX_AGE_MS, EventConsumer, buildEnvelope, connectNats, createLogger, ensureConsumer, ensureStream, tierEventConsumer } from '../src';
import { natsTestContext, type NatsTestContext } from '../../testkit/src';

const logger = createLogger({ service: 'test', level: 'silent' });
let nats: NatsTestContext;

beforeAll(async () => {
  nats = await natsTestContext();
});
afterAll(() => nats.cleanup());

const waitFor = async (cond: () => boolean, ms = 10_000) => {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 25));
  }
};

test('ensureStream is idempotent and converges the stream to the given config', async () => {
  const name = nats.names.stream('queue');
  await ensureStream(nats.nc, { name, subjects: [nats.names.tierSubjects('queue')], duplicateWindowMs: 60_000 });
  await ensureStream(nats.nc, { name, subjects: [nats.names.tierSubjects('queue')], duplicateWindowMs: 60_000 });
  await ensureStream(nats.nc, { name, subjects: [nats.names.tierSubjects('queue')], duplicateWindowMs: 90_000 });
  const info = await (await jetstreamManager(nats.nc)).streams.info(name);
  expect(info.config.duplicate_window).toBe(90_000 * 1_000_000);
  // Concurrent declarations from several replicas do not fail either.
  await Promise.all([1, 2, 3].map(() => ensureStream(nats.nc, { name: nats.names.stream('content'), subjects: [nats.names.tierSubjects('content')], duplicateWindowMs: 60_000 })));
});

test('every stream gets an age limit, and a new one is applied to the existing stream', async () => {
  const jsm = await jetstreamManager(nats.nc);
  const name = nats.names.stream('analytics');
  const subjects = [nats.names.tierSubjects('analytics')];
  // Without maxAgeMs: the kit's default (events carry personal data; nothing is kept for ever).
  await ensureStream(nats.nc, { name, subjects, duplicateWindowMs: 60_000 });
  expect((await jsm.streams.info(name)).config.max_age).toBe(DEFAULT_EVENTS_MAX_AGE_MS * 1_000_000);
  expect((await jsm.streams.info(name)).config.max_bytes).toBe(-1);
  await jsm.streams.delete(name);
  await ensureStream(nats.nc, { name, subjects, duplicateWindowMs: 60_000, maxAgeMs: 3_600_000 });
  expect((await jsm.streams.info(name)).config.max_age).toBe(3_600_000 * 1_000_000);
  // A later start with other limits updates the live stream (every replica converges on it).
  const js = jetstream(nats.nc);
  await js.publish(nats.names.subject('analytics', randomUUID(), 'probe'), new Uint8Array([1]));
  await ensureStream(nats.nc, { name, subjects, duplicateWindowMs: 60_000, maxAgeMs: 7_200_000, maxBytes: 1_000_000 });
  let info = await jsm.streams.info(name);
  expect(info.config.max_age).toBe(7_200_000 * 1_000_000);
  expect(info.config.max_bytes).toBe(1_000_000);
  expect(info.state.messages).toBe(1);
  // And back to no size cap, idempotently.
  await ensureStream(nats.nc, { name, subjects, duplicateWindowMs: 60_000, maxAgeMs: 7_200_000 });
  await ensureStream(nats.nc, { name, subjects, duplicateWindowMs: 60_000, maxAgeMs: 7_200_000 });
  info = await jsm.streams.info(name);
  expect(info.config.max_bytes).toBe(-1);
  // A duplicate window longer than the age limit is refused with the settings' names.
  await expect(ensureStream(nats.nc, { name, subjects, duplicateWindowMs: 60_000, maxAgeMs: 30_000 })).rejects.toThrow(/EVENTS_MAX_AGE_MS/);
});

test('a republish with the same msgID inside the window is stored once', async () => {
  const js = jetstream(nats.nc);
  const subject = nats.names.subject('queue', randomUUID(), 'probe');
  const id = randomUUID();
  const first = await js.publish(subject, new Uint8Array([1]), { msgID: id });
  const second = await js.publish(subject, new Uint8Array([1]), { msgID: id });
  expect(first.duplicate).toBe(false);
  expect(second.duplicate).toBe(true);
  expect(second.seq).toBe(first.seq);
});

test('EventConsumer handles batches, acks after the handler, redelivers a failed batch, and dead-letters what it can never handle', async () => {
  const stream = nats.names.stream('metadata');
  await ensureStream(nats.nc, { name: stream, subjects: [nats.names.tierSubjects('metadata')], duplicateWindowMs: 60_000 });
  await ensureConsumer(nats.nc, stream, { durable: 'probe', filterSubjects: [nats.names.eventFilter('metadata', 'probe')], ackWaitMs: 5_000 });
  // Declaring it again (every replica at start) is fine.
  await ensureConsumer(nats.nc, stream, { durable: 'probe', filterSubjects: [nats.names.eventFilter('metadata', 'probe')], ackWaitMs: 5_000 });

  const tenant = randomUUID();
  const js = jetstream(nats.nc);
  const events = Array.from({ length: 8 }, (_, i) =>
    buildEnvelope({ tenantId: tenant, source: 'metadata', eventType: 'probe', type: commonV1.PageResponse, payload: { nextPageToken: String(i) } }),
  );
  for (const e of events.slice(0, 4)) await js.publish(nats.names.subject('metadata', tenant, 'probe'), e.bytes, { msgID: e.eventId });
  await js.publish(nats.names.subject('metadata', tenant, 'probe'), new Uint8Array([0xff, 0xff, 0xff]), { msgID: randomUUID() });
  for (const e of events.slice(4)) await js.publish(nats.names.subject('metadata', tenant, 'probe'), e.bytes, { msgID: e.eventId });

  const handled: string[] = [];
  const batchSizes: number[] = [];
  let failOnce = events[2].eventId;
  const poison = events[6].eventId;
  const consumer = new EventConsumer({
    nc: nats.nc,
    stream,
    durable: 'probe',
    names: nats.names,
    logger,
    retryDelayMs: 100,
    maxBatch: 3,
    handle: async (batch) => {
      if (batch.some((e) => e.envelope.eventId === failOnce)) {
        failOnce = '';
        throw new Error('transient');
      }
      batchSizes.push(batch.length);
      const rejected = batch.filter((e) => e.envelope.eventId === poison).map((event) => ({ event, reason: 'not an event this consumer knows' }));
      handled.push(...batch.filter((e) => e.envelope.eventId !== poison).map((e) => e.envelope.eventId));
      return { rejected };
    },
  });
  await consumer.start();
  await waitFor(() => handled.length === 7);
  await consumer.stop();
  await nats.nc.flush(); // acks are fire-and-forget: let the server see the last one
  expect(new Set(handled)).toEqual(new Set(events.filter((e) => e.eventId !== poison).map((e) => e.eventId)));
  expect(Math.max(...batchSizes)).toBeLessThanOrEqual(3);
  expect(Math.max(...batchSizes)).toBeGreaterThan(1);
  const info = await (await jetstreamManager(nats.nc)).consumers.info(stream, 'probe');
  expect(info.num_pending).toBe(0);
  expect(info.num_ack_pending).toBe(0);
  expect(await consumer.lag()).toEqual({ pending: 0, lagSeconds: 0 });
  // The undecodable message and the rejected event are in the dead-letter stream, with reasons.
  const jsm = await jetstreamManager(nats.nc);
  const dlq = await jsm.streams.info(nats.names.deadLetterStream());
  expect(dlq.state.messages).toBe(2);
  const letters = await Promise.all([1, 2].map(async (seq) => commonV1.DeadLetter.decode((await jsm.streams.getMessage(nats.names.deadLetterStream(), { seq }))!.data)));
  expect(letters.map((l) => l.reason).sort()).toEqual([expect.stringMatching(/^not an event/), expect.stringMatching(/^undecodable envelope/)].sort());
  expect(consumer.stats.deadLettered).toBe(2);
  await jsm.streams.delete(nats.names.deadLetterStream());
});

test("tierEventConsumer: declare creates the other tier's stream when its owner has not started, and the consumer gets only its event", async () => {
  const own = await natsTestContext(); // fresh names: no stream of this context exists yet
  try {
    const spec = tierEventConsumer({ tier: 'content', event: 'wanted', durable: 'probe-tier' });
    const settings = { EVENTS_DUPLICATE_WINDOW_MS: 45_000 };
    await Promise.all([spec.declare(own.nc, own.names, settings), spec.declare(own.nc, own.names, settings)]); // replicas at start
    const jsm = await jetstreamManager(own.nc);
    const stream = own.names.stream('content');
    expect((await jsm.streams.info(stream)).config.duplicate_window).toBe(45_000 * 1_000_000);
    expect((await jsm.consumers.info(stream, 'probe-tier')).config.filter_subject).toBe(own.names.eventFilter('content', 'wanted'));

    const tenant = randomUUID();
    const js = jetstream(own.nc);
    const publish = async (eventType: string) => {
      const e = buildEnvelope({ tenantId: tenant, source: 'content', eventType, type: commonV1.PageResponse, payload: { nextPageToken: eventType } });
      await js.publish(own.names.subject('content', tenant, eventType), e.bytes, { msgID: e.eventId });
      return e.eventId;
    };
    await publish('other');
    const wanted = await publish('wanted');
    const seen: string[] = [];
    const consumer = spec.create({ nc: own.nc, names: own.names, logger, maxWaitMs: 200 }, async (batch) => {
      seen.push(...batch.map((e) => e.envelope.eventId));
    });
    await consumer.start();
    await waitFor(() => seen.length >= 1);
    await consumer.stop();
    expect(seen).toEqual([wanted]);
  } finally {
    await own.cleanup();
  }
});

test('connectNats gives one clear error naming the URL when nothing answers', async () => {
  await expect(connectNats({ url: 'nats://127.0.0.1:1', name: 'x', attempts: 2, delayMs: 10 })).rejects.toThrow(
    /^NATS at nats:\/\/127\.0\.0\.1:1 did not answer after 2 attempts .*set NATS_URL$/,
  );
});
