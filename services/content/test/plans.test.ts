import { randomUUID } from 'node:crypto';
import { freshDatabase, statDeltas, type FreshDatabase } from '@penguinmails/testkit';
import { Client, type Pool } from 'pg';
import { getContent } from '../src/db/get-content';
import { MIGRATIONS_DIR as migrationsDir } from '../src/migrations-dir';

// GetContent is planned for the table it runs on, not for the table of its first runs: run 8
// times on one connection while the tenant has 5 objects, then after 20,000 more, it still
// reads one entry of the primary key and none of the tenant's index. (As a named statement,
// PostgreSQL cached a generic plan on the few rows that read the tenant's index and filtered the
// key: 20,005 entries for one object.)

let db: FreshDatabase;
beforeAll(async () => {
  db = await freshDatabase({ migrationsDir });
});
afterAll(async () => {
  await db?.drop();
});

test('GetContent reads one primary-key entry after the table grew, whatever it ran on before', async () => {
  const c = new Client({ connectionString: db.url });
  await c.connect();
  // getContent's pool is this one connection, so every call runs on it.
  const pool = { query: c.query.bind(c) } as unknown as Pool;
  try {
    const tenant = randomUUID();
    const insert = (prefix: string, n: number) =>
      c.query(
        `insert into content_objects (storage_key, tenant_id, content_text, raw_size_bytes)
         select $1::text || '/' || $2::text || g, $1::uuid, 'hi', 2 from generate_series(1, $3::int) g`,
        [tenant, prefix, n],
      );
    await insert('k', 5);
    for (let i = 1; i <= 8; i++) expect((await getContent(pool, tenant, `${tenant}/k${(i % 5) + 1}`))?.contentText).toBe('hi');
    await insert('m', 20_000);
    const read = await statDeltas(
      c,
      {
        tenantIdx: `pg_stat_get_xact_tuples_returned('content_objects_tenant_created_idx'::regclass)`,
        pkey: `pg_stat_get_xact_tuples_returned('content_objects_pkey'::regclass)`,
      },
      async () => expect((await getContent(pool, tenant, `${tenant}/k1`))?.contentText).toBe('hi'),
    );
    expect(read).toEqual({ tenantIdx: 0, pkey: 1 });
  } finally {
    await c.end();
  }
});
