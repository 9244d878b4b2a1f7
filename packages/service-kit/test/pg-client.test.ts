// withClient: a pooled connection that dies between two statements (its backend terminated, as
// in a database restart) must fail the next statement, not crash the process with an unheard
// 'error' event on the client. Real PostgreSQL; the connection is killed with pg_terminate_backend.
import { Client } from 'pg';
import { freshDatabase, type FreshDatabase } from '../../testkit/src';
import { createPgPool, withClient } from '../src';

let db: FreshDatabase;
beforeAll(async () => {
  db = await freshDatabase();
});
afterAll(async () => {
  await db?.drop();
});

test('a connection killed between two statements fails the second one; the process lives, the pool replaces the client', async () => {
  const pool = createPgPool(db.url, { max: 1 });
  const admin = new Client({ connectionString: db.url });
  await admin.connect();
  const uncaught: unknown[] = [];
  const onUncaught = (err: unknown) => uncaught.push(err);
  process.on('uncaughtException', onUncaught);
  try {
    let pid = 0;
    const err = await withClient(pool, async (client) => {
      pid = (await client.query<{ pid: number }>('select pg_backend_pid() as pid')).rows[0].pid;
      await admin.query('select pg_terminate_backend($1)', [pid]);
      // The server's FATAL and the socket's end arrive while no query runs: the 'error' event.
      for (let i = 0; i < 100 && (await admin.query('select 1 from pg_stat_activity where pid = $1', [pid])).rowCount; i++)
        await new Promise((r) => setTimeout(r, 20));
      await new Promise((r) => setTimeout(r, 100));
      return client.query('select 1').then(
        () => undefined,
        (e: Error) => e,
      );
    });
    expect(err).toBeInstanceOf(Error);
    expect(uncaught).toEqual([]);
    // The broken client was destroyed on release: the pool's next client is a new backend.
    const next = (await pool.query<{ pid: number }>('select pg_backend_pid() as pid')).rows[0].pid;
    expect(next).not.toBe(pid);
  } finally {
    process.off('uncaughtException', onUncaught);
    await admin.end();
    await pool.end();
  }
});
