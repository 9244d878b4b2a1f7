import { randomUUID } from 'node:crypto';
import { call, createPgPool } from '@penguinmails/service-kit';
import { RetentionSweeper } from '../src/domain/retention';
import { startContent, type Harness } from './harness';

// Two replicas' retention sweepers (each with its own pool, as two processes have) sweeping the
// same expired rows at once: every expired object is deleted once, with exactly one
// ContentDeleted event each (a double delete would emit a second one).

const OBJECTS = 200;
let h: Harness;
beforeAll(async () => {
  h = await startContent();
});
afterAll(async () => {
  await h?.close();
});

test('two sweepers on one database delete each expired object once, one event each', async () => {
  const tenant = randomUUID();
  for (let i = 0; i < OBJECTS; i += 20)
    await Promise.all(
      Array.from({ length: 20 }, (_, k) =>
        call(h.client, 'putContent', { tenantId: tenant, storageKey: '', contentText: `body ${i + k}`, contentHtml: '', headers: {}, rawSizeBytes: 0n, expires: undefined }),
      ),
    );
  await h.pool.query(`update content_objects set expires = now() - interval '1 minute' where tenant_id = $1`, [tenant]);
  const pools = [createPgPool(h.db.url, { max: 2 }), createPgPool(h.db.url, { max: 2 })];
  try {
    const sweepers = pools.map((pool) => new RetentionSweeper({ pool, names: h.names, logger: undefined as never, intervalMs: 0, batchSize: 15 }));
    await Promise.all(sweepers.map((s) => s.sweep()));
    const left = Number((await h.pool.query(`select count(*) as n from content_objects where tenant_id = $1`, [tenant])).rows[0].n);
    expect(left).toBe(0);
    const events = await h.pool.query<{ n: string }>(`select count(*) as n from outbox_events where event_type like '%ContentDeleted' and tenant_id = $1`, [tenant]);
    expect(Number(events.rows[0].n)).toBe(OBJECTS);
  } finally {
    await Promise.all(pools.map((p) => p.end()));
  }
}, 60_000);
