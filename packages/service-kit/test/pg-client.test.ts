// withClient: a pooled connection that dies between two statements (its backend terminated, as
// in a database restart) must fail the next statement, not crash the process with an unheard
// 'error' event on the client. Real PostgreSQL; the connection is killed with pg_terminate_backend.
import * as net from 'node:net';
import { Client } from 'pg';
import { freshDatabase, type FreshDatabase } from '../../testkit/src';
import { classifyError, createPgPool, UnavailableError, withClient, withTransaction } from '../src';

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

// The race the kill -9 PostgreSQL fault test hit about once in 20 kills (CI of 2026-11-27):
// a new backend answers the startup with ReadyForQuery and, in the same TCP read, a FATAL
// "terminating connection due to unexpected postmaster exit". pg-pool hands the client to the
// caller of pool.connect() while parsing ReadyForQuery (its idle listener removed), the caller's
// own listener is attached only when its await resumes, and the FATAL is parsed before that:
// an 'error' event nobody hears, which crashes the process. A real server cannot be made to do
// this on demand, so this server speaks just enough of the protocol to send those two messages
// together.
function dyingServer(): Promise<{ url: string; close: () => Promise<void> }> {
  const msg = (type: string, body: Buffer) => {
    const head = Buffer.alloc(5);
    head.write(type, 0, 'latin1');
    head.writeInt32BE(body.length + 4, 1);
    return Buffer.concat([head, body]);
  };
  const authOk = msg('R', Buffer.from([0, 0, 0, 0]));
  const ready = msg('Z', Buffer.from('I'));
  const fatal = msg('E', Buffer.from('SFATAL\0VFATAL\0C57P01\0Mterminating connection due to unexpected postmaster exit\0\0', 'latin1'));
  const server = net.createServer((socket) => {
    socket.on('error', () => undefined);
    socket.once('data', () => socket.end(Buffer.concat([authOk, ready, fatal])));
  });
  return new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () => {
      const port = (server.address() as net.AddressInfo).port;
      resolve({ url: `postgres://u:p@127.0.0.1:${port}/d`, close: () => new Promise<void>((r) => server.close(() => r())) });
    }),
  );
}

test('a connection that fails in the same read as its ReadyForQuery: withClient and withTransaction fail with UNAVAILABLE, the process lives', async () => {
  const server = await dyingServer();
  const pool = createPgPool(server.url, { max: 2 });
  const uncaught: unknown[] = [];
  const onUncaught = (err: unknown) => uncaught.push(err);
  process.on('uncaughtException', onUncaught);
  try {
    for (const use of [withClient, withTransaction]) {
      const err = await use(pool, (client) => client.query('select 1')).then(
        () => undefined,
        (e: Error) => e,
      );
      expect(err).toBeInstanceOf(Error);
      expect(classifyError(err)).toBeInstanceOf(UnavailableError);
    }
    await new Promise((r) => setTimeout(r, 50));
    expect(uncaught).toEqual([]);
  } finally {
    process.off('uncaughtException', onUncaught);
    await pool.end();
    await server.close();
  }
});
