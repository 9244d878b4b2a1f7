import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { jetstreamManager } from '@nats-io/jetstream';
import { metadataV1 } from '@penguinmails/contracts';
import { call, connect } from '@penguinmails/service-kit';
import { freshDatabase, listeningPorts, natsTestContext, outboxPublished, type FreshDatabase, type NatsTestContext } from '@penguinmails/testkit';

// Three metadata processes (dist/main.js) on one database and one stream: writes spread over
// them; their three outbox relays together publish every event exactly once. Proved by the
// stream's message count (= outbox rows) and by each relay's own count of what it published
// (pm_outbox_published_total from /metrics: the three add up to the outbox, so no row went
// out twice even before the stream's duplicate window could drop a copy).

const MAIN = path.join(__dirname, '..', 'dist', 'main.js');
const REPLICAS = 3;
const LEADS = 300;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

let db: FreshDatabase;
let nats: NatsTestContext;
const children: { proc: ChildProcess; port: number; metricsPort: number; ready: Promise<{ grpc: number; metrics?: number }> }[] = [];

beforeAll(async () => {
  db = await freshDatabase();
  nats = await natsTestContext();
});
afterAll(async () => {
  await Promise.all(
    children.map(async (c) => {
      if (c.proc.exitCode === null && c.proc.signalCode === null) {
        c.proc.kill('SIGTERM');
        await new Promise((r) => c.proc.once('exit', r));
      }
    }),
  );
  await nats?.cleanup();
  await db?.drop();
});

function value(text: string, name: string): number {
  const line = text.split('\n').find((l) => l.startsWith(name + ' '));
  return line ? Number(line.slice(line.lastIndexOf(' ') + 1)) : 0;
}

(existsSync(MAIN) ? it : it.skip)('three metadata replicas: their relays publish each event exactly once', async () => {
  for (let i = 0; i < REPLICAS; i++) {
    const proc = spawn(process.execPath, [MAIN], {
      env: {
        ...process.env,
        DATABASE_URL: db.url,
        GRPC_HOST: '127.0.0.1',
        // Port 0: the OS picks each port when the replica binds it (read from its ready line).
        GRPC_PORT: '0',
        METRICS_PORT: '0',
        NATS_URL: nats.url,
        EVENTS_SUBJECT_PREFIX: nats.subjectPrefix,
        EVENTS_STREAM_PREFIX: nats.streamPrefix,
        CONTENT_URL: '127.0.0.1:1',
        LOG_LEVEL: 'info',
      },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    children.push({ proc, port: 0, metricsPort: 0, ready: listeningPorts(proc, { timeoutMs: 90_000 }) });
  }
  // All three start at once (they migrate the empty database together); then their ports.
  for (const c of children) {
    const bound = await c.ready;
    Object.assign(c, { port: bound.grpc, metricsPort: bound.metrics! });
  }
  const clients = children.map((c) => connect(metadataV1.MetadataServiceClient, `127.0.0.1:${c.port}`));
  try {
    let tenantId = '';
    for (let i = 0; !tenantId; i++) {
      try {
        tenantId = (await call(clients[0], 'createTenant', { tenantId: '', name: 'Replicas' }, { deadlineMs: 500 })).tenant!.id;
      } catch (err) {
        if (i > 200) throw err;
        await sleep(100);
      }
    }
    // Every replica serving (they migrated the empty database together).
    for (const c of clients)
      for (let i = 0; ; i++) {
        try {
          await call(c, 'getTenant', { tenantId }, { deadlineMs: 500 });
          break;
        } catch (err) {
          if (i > 200) throw err;
          await sleep(100);
        }
      }
    for (let from = 0; from < LEADS; from += 30)
      await Promise.all(
        Array.from({ length: 30 }, (_, k) => from + k).map((i) =>
          call(clients[i % REPLICAS], 'createLead', {
            tenantId,
            lead: { email: `lead${i}@replicas.example`, firstName: 'L', lastName: String(i), company: '', customFields: {}, status: 0 },
          }),
        ),
      );

    const outbox = await outboxPublished(db.url);
    expect(outbox).toBeGreaterThanOrEqual(LEADS);
    const jsm = await jetstreamManager(nats.nc);
    const info = await jsm.streams.info(nats.names.stream('metadata'));
    expect(info.state.messages).toBe(outbox);

    const texts = await Promise.all(children.map(async (c) => (await fetch(`http://127.0.0.1:${c.metricsPort}/metrics`)).text()));
    const perReplica = texts.map((t) => value(t, 'pm_outbox_published_total'));
    expect(perReplica.reduce((a, b) => a + b, 0)).toBe(outbox);
    for (const t of texts) {
      expect(value(t, 'pm_outbox_backlog')).toBe(0);
      expect(t).toMatch(/^pm_consumer_pending\{stream="[^"]+",durable="[^"]+"\} \d+/m);
      expect(t).toMatch(/grpc_server_handled_total\{[^}]*grpc_method="CreateLead"[^}]*grpc_code="OK"\} 100/);
      expect(t).not.toContain(tenantId);
    }
  } finally {
    for (const c of clients) c.close();
  }
}, 120_000);
