import { randomUUID } from 'node:crypto';
import { status } from '@grpc/grpc-js';
import { call } from '@penguinmails/service-kit';
import { failure, fields, startContent, type Harness } from './harness';

// The project standard, RPC by RPC, for what content.test.ts / attachments.test.ts leave out:
// bad input is INVALID_ARGUMENT naming the fields, and a refused call (bad input, another
// tenant's object, an expired one) writes nothing.

let h: Harness;
const tenant = randomUUID();
const other = randomUUID();
let key: string; // tenant's live object, with one attachment
let attachmentId: string;
let expiredKey: string; // tenant's object past its expires, with one attachment
let expiredAttachmentId: string;
let otherKey: string; // other's live object
let otherAttachmentId: string;

const put = (tenantId: string, storageKey = '') =>
  call(h.client, 'putContent', { tenantId, storageKey, contentText: 'body', rawSizeBytes: 0n }).then((r) => r.content!.storageKey);
const attach = (tenantId: string, parentStorageKey: string, attachmentId = '') =>
  call(h.client, 'addAttachment', {
    tenantId,
    parentStorageKey,
    filename: 'a.txt',
    mimeType: 'text/plain',
    content: Buffer.from('a'),
    storageDisposition: 0,
    attachmentId,
  }).then((r) => r.attachment!.id);

beforeAll(async () => {
  h = await startContent({ limits: { pageSizeMax: 10 } });
  key = await put(tenant);
  attachmentId = await attach(tenant, key);
  expiredKey = await put(tenant, `${tenant}/expired/${randomUUID()}`);
  expiredAttachmentId = await attach(tenant, expiredKey);
  await h.pool.query(`update content_objects set expires = now() - interval '1 second' where storage_key = $1`, [expiredKey]);
  otherKey = await put(other);
  otherAttachmentId = await attach(other, otherKey);
});
afterAll(() => h.close());

type Rpc = 'putContent' | 'getContent' | 'deleteContent' | 'addAttachment' | 'getAttachment' | 'listAttachments';
const page = (pageSize: number, pageToken = '') => ({ pageSize, pageToken });
const attachment = (tenantId: string, parentStorageKey: string) => ({
  tenantId,
  parentStorageKey,
  filename: 'x.txt',
  mimeType: 'text/plain',
  content: Buffer.from('x'),
  storageDisposition: 0,
  attachmentId: '',
});

// Each case is [rpc, what, the call, ...]: typed requests; the wrong values are wrong for the service, not for TypeScript.
describe('bad input → INVALID_ARGUMENT naming the fields, nothing written', () => {
  const cases: [Rpc, string, () => Promise<unknown>, string[]][] = [
    ['putContent', 'NUL in headers', () => call(h.client, 'putContent', { tenantId: tenant, storageKey: '', headers: { X: 'a\u0000b' }, rawSizeBytes: 0n }), ['headers.X']],
    ['putContent', 'raw_size_bytes over int4', () => call(h.client, 'putContent', { tenantId: tenant, storageKey: '', contentText: 'x', rawSizeBytes: 2n ** 31n }), ['raw_size_bytes']],
    ['getContent', 'missing tenant_id', () => call(h.client, 'getContent', { tenantId: '', storageKey: key }), ['tenant_id']],
    ['getContent', 'missing storage_key', () => call(h.client, 'getContent', { tenantId: tenant, storageKey: '' }), ['storage_key']],
    ['getContent', 'storage_key over 500', () => call(h.client, 'getContent', { tenantId: tenant, storageKey: `${tenant}/${'k'.repeat(500)}` }), ['storage_key']],
    ['deleteContent', 'non-uuid tenant_id', () => call(h.client, 'deleteContent', { tenantId: 'acme', storageKey: key }), ['tenant_id']],
    ['deleteContent', 'missing storage_key', () => call(h.client, 'deleteContent', { tenantId: tenant, storageKey: '' }), ['storage_key']],
    ['getAttachment', 'non-uuid tenant_id', () => call(h.client, 'getAttachment', { tenantId: 'acme', attachmentId }), ['tenant_id']],
    ['getAttachment', 'missing attachment_id', () => call(h.client, 'getAttachment', { tenantId: tenant, attachmentId: '' }), ['attachment_id']],
    ['listAttachments', 'non-uuid tenant_id', () => call(h.client, 'listAttachments', { tenantId: 'acme', parentStorageKey: key, page: page(0) }), ['tenant_id']],
    ['listAttachments', 'missing parent_storage_key', () => call(h.client, 'listAttachments', { tenantId: tenant, parentStorageKey: '', page: page(0) }), ['parent_storage_key']],
    ['listAttachments', 'negative page_size', () => call(h.client, 'listAttachments', { tenantId: tenant, parentStorageKey: key, page: page(-1) }), ['page.page_size']],
    ['listAttachments', 'forged page_token', () => call(h.client, 'listAttachments', { tenantId: tenant, parentStorageKey: key, page: page(2, 'forged.token') }), ['page.page_token']],
  ];
  test.each(cases)('%s: %s', async (_rpc, _what, send, expected) => {
    const before = await h.counts();
    const s = await failure(send());
    expect(s.code).toBe(status.INVALID_ARGUMENT);
    expect(fields(s)).toEqual(expected);
    expect(await h.counts()).toEqual(before);
  });
});

describe("another tenant's or an expired object → NOT_FOUND, nothing written", () => {
  const cases: [Rpc, string, () => Promise<unknown>][] = [
    ['getContent', "other tenant's key", () => call(h.client, 'getContent', { tenantId: tenant, storageKey: otherKey })],
    ['deleteContent', "other tenant's key", () => call(h.client, 'deleteContent', { tenantId: tenant, storageKey: otherKey })],
    ['addAttachment', "other tenant's parent key", () => call(h.client, 'addAttachment', attachment(tenant, otherKey))],
    ['getAttachment', "other tenant's attachment", () => call(h.client, 'getAttachment', { tenantId: tenant, attachmentId: otherAttachmentId })],
    ['listAttachments', "other tenant's parent key", () => call(h.client, 'listAttachments', { tenantId: tenant, parentStorageKey: otherKey, page: page(0) })],
    ['deleteContent', 'expired object', () => call(h.client, 'deleteContent', { tenantId: tenant, storageKey: expiredKey })],
    ['addAttachment', 'expired parent', () => call(h.client, 'addAttachment', attachment(tenant, expiredKey))],
    ['getAttachment', 'attachment of an expired parent', () => call(h.client, 'getAttachment', { tenantId: tenant, attachmentId: expiredAttachmentId })],
    ['listAttachments', 'expired parent', () => call(h.client, 'listAttachments', { tenantId: tenant, parentStorageKey: expiredKey, page: page(0) })],
  ];
  test.each(cases)('%s: %s', async (_rpc, _what, send) => {
    const before = await h.counts();
    const s = await failure(send());
    expect(s.code).toBe(status.NOT_FOUND);
    expect(await h.counts()).toEqual(before);
  });

  test("an attachment_id another tenant holds is ALREADY_EXISTS, says nothing about it, and changes nothing", async () => {
    const before = await h.counts();
    const s = await failure(attach(tenant, key, otherAttachmentId));
    expect(s.code).toBe(status.ALREADY_EXISTS);
    expect(s.message).not.toContain(otherKey);
    expect(await h.counts()).toEqual(before);
    const theirs = await call(h.client, 'getAttachment', { tenantId: other, attachmentId: otherAttachmentId });
    expect(theirs.attachment).toMatchObject({ tenantId: other, parentStorageKey: otherKey });
  });
});
