import { randomUUID } from 'node:crypto';
import { status } from '@grpc/grpc-js';
import { contentV1 } from '@penguinmails/contracts';
import { call } from '@penguinmails/service-kit';
import { pgDigest } from '@penguinmails/testkit';
import { OrphanSweeper } from '../src/domain/orphans';
import { RetentionSweeper } from '../src/domain/retention';
import { failure, fields, startContent, type Harness } from './harness';

// The rest of the seed's tier: transactional emails (body in content_objects, own content_refs
// row) and notifications (unread first, mark read), their events, and refused input.

const S = contentV1.TransactionalEmailStatus;
let h: Harness;
const tenant = randomUUID();
const other = randomUUID();

beforeAll(async () => {
  h = await startContent({ limits: { pageSizeMax: 10, contentMaxBytes: 10_000 } });
});
afterAll(() => h.close());

const create = (patch: Partial<contentV1.CreateTransactionalEmailRequest> = {}) =>
  call(h.client, 'createTransactionalEmail', {
    tenantId: tenant,
    transactionalEmailId: '',
    recipientEmail: 'Ada@Example.com',
    recipientUserId: '',
    kind: 'password_reset',
    subject: 'Reset your password',
    contentText: 'Click the link',
    contentHtml: '<p>Click the link</p>',
    bodyExpires: undefined,
    ...patch,
  });
const events = async (suffix: string) =>
  (await h.pool.query<{ n: number }>(`select count(*)::int as n from outbox_events where subject like $1`, [`%.${suffix}`])).rows[0].n;

describe('transactional emails', () => {
  test('create stores the body as content with its own ref, queued, with events; get and GetContent read it', async () => {
    const before = await h.counts();
    const res = await create();
    const e = res.transactionalEmail!;
    expect(res.created).toBe(true);
    expect(e).toMatchObject({ tenantId: tenant, recipientEmail: 'ada@example.com', kind: 'password_reset', status: S.TRANSACTIONAL_EMAIL_STATUS_QUEUED, bodyStorageKey: `${tenant}/transactional/${e.id}` });
    expect(e.sentAt).toBeUndefined();
    const after = await h.counts();
    expect([after.content - before.content, after.refs - before.refs, after.transactionalEmails - before.transactionalEmails]).toEqual([1, 1, 1]);
    expect(await events('transactional_email_queued')).toBeGreaterThan(0);
    const body = await call(h.client, 'getContent', { tenantId: tenant, storageKey: e.bodyStorageKey });
    expect(body.contentHtml).toBe('<p>Click the link</p>');
    expect((await call(h.client, 'getTransactionalEmail', { tenantId: tenant, transactionalEmailId: e.id })).transactionalEmail).toEqual(e);
  });

  test('the orphan sweep keeps a transactional body (its content_refs row)', async () => {
    const e = (await create()).transactionalEmail!;
    const sweeper = new OrphanSweeper({ pool: h.pool, names: h.names, logger: undefined as never, intervalMs: 0, batchSize: 100, graceMs: 1 });
    await new Promise((r) => setTimeout(r, 20));
    await sweeper.sweep();
    expect((await call(h.client, 'getContent', { tenantId: tenant, storageKey: e.bodyStorageKey })).content).toBeDefined();
  });

  test('idempotent on a caller id; another body under it is ALREADY_EXISTS; another tenant cannot see or take it', async () => {
    const id = randomUUID();
    const first = await create({ transactionalEmailId: id });
    const before = await pgDigest(h.pool);
    const again = await create({ transactionalEmailId: id });
    expect(again.created).toBe(false);
    expect(again.transactionalEmail).toEqual(first.transactionalEmail);
    expect((await failure(create({ transactionalEmailId: id, contentText: 'other' }))).code).toBe(status.ALREADY_EXISTS);
    expect((await failure(create({ transactionalEmailId: id, tenantId: other }))).code).toBe(status.ALREADY_EXISTS);
    expect((await failure(call(h.client, 'getTransactionalEmail', { tenantId: other, transactionalEmailId: id }))).code).toBe(status.NOT_FOUND);
    expect(await pgDigest(h.pool)).toEqual(before);
  });

  test('status moves forward with events; same status is a no-op; backwards is FAILED_PRECONDITION', async () => {
    const e = (await create()).transactionalEmail!;
    const upd = (st: contentV1.TransactionalEmailStatus, patch: Partial<contentV1.UpdateTransactionalEmailStatusRequest> = {}) =>
      call(h.client, 'updateTransactionalEmailStatus', { tenantId: tenant, transactionalEmailId: e.id, status: st, providerMessageId: '', statusDetail: '', ...patch });
    const sent = await upd(S.TRANSACTIONAL_EMAIL_STATUS_SENT, { providerMessageId: 'ses-123' });
    expect(sent.changed).toBe(true);
    expect(sent.transactionalEmail).toMatchObject({ status: S.TRANSACTIONAL_EMAIL_STATUS_SENT, providerMessageId: 'ses-123' });
    expect(sent.transactionalEmail!.sentAt).toBeInstanceOf(Date);
    const before = await pgDigest(h.pool);
    expect((await upd(S.TRANSACTIONAL_EMAIL_STATUS_SENT)).changed).toBe(false);
    expect((await failure(upd(S.TRANSACTIONAL_EMAIL_STATUS_QUEUED))).code).toBe(status.FAILED_PRECONDITION);
    expect((await failure(upd(S.TRANSACTIONAL_EMAIL_STATUS_DELIVERED, { providerMessageId: 'other-id' }))).code).toBe(status.FAILED_PRECONDITION);
    expect((await failure(call(h.client, 'updateTransactionalEmailStatus', { tenantId: other, transactionalEmailId: e.id, status: S.TRANSACTIONAL_EMAIL_STATUS_FAILED, providerMessageId: '', statusDetail: '' }))).code).toBe(status.NOT_FOUND);
    expect(await pgDigest(h.pool)).toEqual(before);
    await upd(S.TRANSACTIONAL_EMAIL_STATUS_DELIVERED);
    const bounced = await upd(S.TRANSACTIONAL_EMAIL_STATUS_BOUNCED, { statusDetail: '550 mailbox gone' });
    expect(bounced.transactionalEmail).toMatchObject({ status: S.TRANSACTIONAL_EMAIL_STATUS_BOUNCED, statusDetail: '550 mailbox gone' });
    expect((await failure(upd(S.TRANSACTIONAL_EMAIL_STATUS_FAILED))).code).toBe(status.FAILED_PRECONDITION);
    expect(await events('transactional_email_status_changed')).toBeGreaterThanOrEqual(3);
  });

  test('list pages one recipient newest first; tokens are bound to tenant and recipient', async () => {
    const to = `list-${randomUUID()}@example.com`;
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) ids.push((await create({ recipientEmail: to })).transactionalEmail!.id);
    const seen: string[] = [];
    let token = '';
    do {
      const res = await call(h.client, 'listTransactionalEmails', { tenantId: tenant, recipientEmail: to, page: { pageSize: 2, pageToken: token } });
      seen.push(...res.transactionalEmails.map((e) => e.id));
      token = res.page!.nextPageToken;
    } while (token);
    expect(seen).toEqual([...ids].reverse());
    const first = await call(h.client, 'listTransactionalEmails', { tenantId: tenant, recipientEmail: to, page: { pageSize: 2, pageToken: '' } });
    const wrong = await failure(call(h.client, 'listTransactionalEmails', { tenantId: tenant, recipientEmail: 'x@example.com', page: { pageSize: 2, pageToken: first.page!.nextPageToken } }));
    expect(fields(wrong)).toEqual(['page.page_token']);
    expect((await call(h.client, 'listTransactionalEmails', { tenantId: other, recipientEmail: to, page: undefined })).transactionalEmails).toEqual([]);
  });

  test('bad input is INVALID_ARGUMENT naming the fields and writes nothing', async () => {
    const before = await pgDigest(h.pool);
    const cases: [Partial<contentV1.CreateTransactionalEmailRequest>, string[]][] = [
      [{ recipientEmail: 'not-an-email' }, ['recipient_email']],
      [{ kind: 'Password Reset' }, ['kind']],
      [{ subject: '' }, ['subject']],
      [{ contentText: undefined, contentHtml: undefined }, ['content_text']],
      [{ contentHtml: 'x'.repeat(10_001) }, ['content_html']],
      [{ contentText: 'a\u0000b' }, ['content_text']],
      [{ recipientUserId: 'u1' }, ['recipient_user_id']],
      [{ bodyExpires: new Date(Date.now() - 1000) }, ['body_expires']],
    ];
    for (const [patch, expected] of cases) {
      const s = await failure(create(patch));
      expect(s.code).toBe(status.INVALID_ARGUMENT);
      expect(fields(s)).toEqual(expected);
    }
    const s = await failure(call(h.client, 'updateTransactionalEmailStatus', { tenantId: tenant, transactionalEmailId: randomUUID(), status: 0 as never, providerMessageId: '', statusDetail: '' }));
    expect(fields(s)).toEqual(['status']);
    expect(await pgDigest(h.pool)).toEqual(before);
  });

  test('when retention deletes the body, the email stays with an empty body_storage_key', async () => {
    const e = (await create()).transactionalEmail!;
    await h.pool.query(`update content_objects set expires = now() - interval '1 second' where storage_key = $1`, [e.bodyStorageKey]);
    await new RetentionSweeper({ pool: h.pool, names: h.names, logger: undefined as never, intervalMs: 0, batchSize: 100 }).sweep();
    const got = await call(h.client, 'getTransactionalEmail', { tenantId: tenant, transactionalEmailId: e.id });
    expect(got.transactionalEmail!.bodyStorageKey).toBe('');
  });
});

describe('notifications', () => {
  const user = randomUUID();
  const make = (title: string, patch: Partial<contentV1.CreateNotificationRequest> = {}) =>
    call(h.client, 'createNotification', { tenantId: tenant, userId: user, kind: 'campaign_finished', title, body: `${title} body`, expires: undefined, ...patch }).then((r) => r.notification!);

  test('list: unread first (newest first), then read; mark read and mark all read, with events once', async () => {
    const ns = [];
    for (let i = 0; i < 6; i++) ns.push(await make(`n${i}`));
    await call(h.client, 'markNotificationRead', { tenantId: tenant, notificationId: ns[1].id });
    await call(h.client, 'markNotificationRead', { tenantId: tenant, notificationId: ns[4].id });
    const readEvents = await events('notification_read');
    const again = await call(h.client, 'markNotificationRead', { tenantId: tenant, notificationId: ns[1].id });
    expect(again.notification!.readAt).toBeInstanceOf(Date);
    expect(await events('notification_read')).toBe(readEvents); // idempotent: no second event

    const walk = async (pageSize: number, unreadOnly = false) => {
      const titles: string[] = [];
      let token = '';
      let unread = -1;
      do {
        const res = await call(h.client, 'listNotifications', { tenantId: tenant, userId: user, unreadOnly, page: { pageSize, pageToken: token } });
        titles.push(...res.notifications.map((n) => n.title));
        token = res.page!.nextPageToken;
        unread = res.unreadCount;
      } while (token);
      return { titles, unread };
    };
    const expected = ['n5', 'n3', 'n2', 'n0', 'n4', 'n1'];
    for (const size of [1, 2, 3, 4, 10]) expect((await walk(size)).titles).toEqual(expected);
    expect(await walk(2, true)).toEqual({ titles: ['n5', 'n3', 'n2', 'n0'], unread: 4 });

    const all = await call(h.client, 'markAllNotificationsRead', { tenantId: tenant, userId: user });
    expect(all.marked).toBe(4);
    expect(await events('notification_read')).toBe(readEvents + 4);
    expect((await walk(10)).unread).toBe(0);
    expect((await call(h.client, 'markAllNotificationsRead', { tenantId: tenant, userId: user })).marked).toBe(0);
  });

  test('expired notifications are gone for every RPC; other tenants see NOT_FOUND; the sweeper deletes them', async () => {
    const n = await make('soon', { expires: new Date(Date.now() + 60_000) });
    expect((await call(h.client, 'getNotification', { tenantId: tenant, notificationId: n.id })).notification).toEqual(n);
    expect((await failure(call(h.client, 'getNotification', { tenantId: other, notificationId: n.id }))).code).toBe(status.NOT_FOUND);
    expect((await failure(call(h.client, 'markNotificationRead', { tenantId: other, notificationId: n.id }))).code).toBe(status.NOT_FOUND);
    await h.pool.query(`update notifications set expires = now() - interval '1 second' where id = $1`, [n.id]);
    expect((await failure(call(h.client, 'getNotification', { tenantId: tenant, notificationId: n.id }))).code).toBe(status.NOT_FOUND);
    expect((await failure(call(h.client, 'markNotificationRead', { tenantId: tenant, notificationId: n.id }))).code).toBe(status.NOT_FOUND);
    await new RetentionSweeper({ pool: h.pool, names: h.names, logger: undefined as never, intervalMs: 0, batchSize: 100 }).sweep();
    expect((await h.pool.query(`select 1 from notifications where id = $1`, [n.id])).rowCount).toBe(0);
  });

  test('bad input is INVALID_ARGUMENT naming the fields and writes nothing', async () => {
    const before = await pgDigest(h.pool);
    const cases: [Partial<contentV1.CreateNotificationRequest>, string[]][] = [
      [{ userId: '' }, ['user_id']],
      [{ kind: '' }, ['kind']],
      [{ title: 't'.repeat(201) }, ['title']],
      [{ body: 'b'.repeat(4001) }, ['body']],
      [{ expires: new Date(0) }, ['expires']],
    ];
    for (const [patch, expected] of cases) {
      const s = await failure(make('x', patch));
      expect(s.code).toBe(status.INVALID_ARGUMENT);
      expect(fields(s)).toEqual(expected);
    }
    const s = await failure(call(h.client, 'listNotifications', { tenantId: tenant, userId: user, unreadOnly: false, page: { pageSize: 2, pageToken: 'forged.x' } }));
    expect(fields(s)).toEqual(['page.page_token']);
    expect(await pgDigest(h.pool)).toEqual(before);
  });
});
