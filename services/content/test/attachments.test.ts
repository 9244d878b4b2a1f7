import { randomBytes, randomUUID } from 'node:crypto';
import { status } from '@grpc/grpc-js';
import { contentV1 } from '@penguinmails/contracts';
import { call } from '@penguinmails/service-kit';
import { MiB, failure, fields, startContent, type Harness } from './harness';

const { STORAGE_DISPOSITION_INLINE: INLINE, STORAGE_DISPOSITION_ATTACHMENT: ATTACHMENT, STORAGE_DISPOSITION_UNSPECIFIED: UNSPECIFIED } =
  contentV1.StorageDisposition;

let h: Harness;
const tenant = randomUUID();
const other = randomUUID();
let key: string;

beforeAll(async () => {
  // 6 MiB: above grpc-js's 4 MiB default, to prove the server's receive limit follows the setting.
  h = await startContent({ limits: { attachmentMaxBytes: 6 * MiB, pageSizeMax: 10 } });
  key = (await call(h.client, 'putContent', { tenantId: tenant, storageKey: '', contentText: 'see attached', rawSizeBytes: 0n })).content!.storageKey;
});
afterAll(() => h.close());

const add = (patch: Partial<contentV1.AddAttachmentRequest> = {}) =>
  call(h.client, 'addAttachment', {
    tenantId: tenant,
    parentStorageKey: key,
    filename: 'report.pdf',
    mimeType: 'application/pdf',
    content: Buffer.from('%PDF-1.7 tiny'),
    storageDisposition: UNSPECIFIED,
    attachmentId: '',
    ...patch,
  });

describe('AddAttachment / GetAttachment', () => {
  test('stores bytes and metadata and reads them back', async () => {
    const res = await add({ mimeType: 'Image/PNG', filename: 'logo.png', storageDisposition: INLINE, content: Buffer.from([0, 1, 2, 255]) });
    expect(res.created).toBe(true);
    expect(res.attachment).toMatchObject({ tenantId: tenant, parentStorageKey: key, filename: 'logo.png', mimeType: 'image/png', sizeBytes: 4n, storageDisposition: INLINE });
    const got = await call(h.client, 'getAttachment', { tenantId: tenant, attachmentId: res.attachment!.id });
    expect(Buffer.from(got.content)).toEqual(Buffer.from([0, 1, 2, 255]));
    expect(got.attachment).toEqual(res.attachment);
  });

  test('defaults: application/octet-stream, ATTACHMENT, no file name', async () => {
    const res = await add({ filename: '', mimeType: '' });
    expect(res.attachment).toMatchObject({ filename: '', mimeType: 'application/octet-stream', storageDisposition: ATTACHMENT });
  });

  test('a 5 MiB attachment round-trips (gRPC limits follow ATTACHMENT_MAX_BYTES)', async () => {
    const big = randomBytes(5 * MiB);
    const res = await add({ content: big });
    const got = await call(h.client, 'getAttachment', { tenantId: tenant, attachmentId: res.attachment!.id });
    expect(Buffer.from(got.content).equals(big)).toBe(true);
  });

  test('idempotent on a caller-chosen attachment_id', async () => {
    const id = randomUUID();
    const first = await add({ attachmentId: id });
    const before = await h.counts();
    const again = await add({ attachmentId: id });
    expect(again.created).toBe(false);
    expect(again.attachment).toEqual(first.attachment);
    expect(await h.counts()).toEqual(before);
    const clash = await failure(add({ attachmentId: id, content: Buffer.from('other') }));
    expect(clash.code).toBe(status.ALREADY_EXISTS);
    // Another tenant cannot read or reuse it either.
    expect((await failure(call(h.client, 'getAttachment', { tenantId: other, attachmentId: id }))).code).toBe(status.NOT_FOUND);
    expect(await h.counts()).toEqual(before);
  });

  test("another tenant's parent key is NOT_FOUND and nothing is written", async () => {
    const before = await h.counts();
    const s = await failure(add({ tenantId: other }));
    expect(s.code).toBe(status.NOT_FOUND);
    expect(s.resourceInfo).toMatchObject({ resourceType: 'content_object', resourceName: key });
    expect(await h.counts()).toEqual(before);
  });
});

describe('AddAttachment refuses bad input and writes nothing', () => {
  const cases: [string, Partial<contentV1.AddAttachmentRequest>, string[]][] = [
    ['missing tenant_id', { tenantId: '' }, ['tenant_id']],
    ['non-uuid tenant_id', { tenantId: '123' }, ['tenant_id']],
    ['missing parent_storage_key', { parentStorageKey: '' }, ['parent_storage_key']],
    ['parent_storage_key over 500', { parentStorageKey: 'k'.repeat(501) }, ['parent_storage_key']],
    ['filename over 255', { filename: 'f'.repeat(256) }, ['filename']],
    ['filename with a newline', { filename: 'a\nb.txt' }, ['filename']],
    ['mime_type without a subtype', { mimeType: 'pdf' }, ['mime_type']],
    ['mime_type over 100', { mimeType: 'a/' + 'b'.repeat(99) }, ['mime_type']],
    ['unknown storage_disposition', { storageDisposition: 7 as contentV1.StorageDisposition }, ['storage_disposition']],
    ['non-uuid attachment_id', { attachmentId: 'att-1' }, ['attachment_id']],
  ];
  test.each(cases)('%s', async (_name, patch, expected) => {
    const before = await h.counts();
    const s = await failure(add(patch));
    expect(s.code).toBe(status.INVALID_ARGUMENT);
    expect(fields(s)).toEqual(expected);
    expect(await h.counts()).toEqual(before);
  });

  test('content over ATTACHMENT_MAX_BYTES names the limit', async () => {
    const before = await h.counts();
    const s = await failure(add({ content: Buffer.alloc(6 * MiB + 1) }));
    expect(s.code).toBe(status.INVALID_ARGUMENT);
    expect(s.fieldViolations).toHaveLength(1);
    expect(s.fieldViolations[0]).toMatchObject({ field: 'content', reason: 'TOO_LARGE' });
    expect(s.fieldViolations[0].description).toContain('ATTACHMENT_MAX_BYTES');
    expect(s.fieldViolations[0].description).toContain('6 MiB');
    expect(await h.counts()).toEqual(before);
  });

  test('GetAttachment validates its id', async () => {
    const s = await failure(call(h.client, 'getAttachment', { tenantId: tenant, attachmentId: 'nope' }));
    expect(s.code).toBe(status.INVALID_ARGUMENT);
    expect(fields(s)).toEqual(['attachment_id']);
  });
});

describe('ListAttachments', () => {
  test('pages in the order added, with tokens bound to tenant and key', async () => {
    const k = (await call(h.client, 'putContent', { tenantId: tenant, storageKey: '', contentText: 'many', rawSizeBytes: 0n })).content!.storageKey;
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) {
      const r = await add({ parentStorageKey: k, filename: `f${i}.txt`, mimeType: 'text/plain', content: Buffer.from(String(i)) });
      ids.push(r.attachment!.id);
    }
    const seen: string[] = [];
    let token = '';
    let pages = 0;
    do {
      const res = await call(h.client, 'listAttachments', { tenantId: tenant, parentStorageKey: k, page: { pageSize: 2, pageToken: token } });
      seen.push(...res.attachments.map((a) => a.id));
      token = res.page!.nextPageToken;
      pages++;
    } while (token);
    expect(seen).toEqual(ids);
    expect(pages).toBe(3);

    const first = await call(h.client, 'listAttachments', { tenantId: tenant, parentStorageKey: k, page: { pageSize: 2, pageToken: '' } });
    const wrong = await failure(
      call(h.client, 'listAttachments', { tenantId: tenant, parentStorageKey: key, page: { pageSize: 2, pageToken: first.page!.nextPageToken } }),
    );
    expect(wrong.code).toBe(status.INVALID_ARGUMENT);
    expect(fields(wrong)).toEqual(['page.page_token']);
  });

  test('an object without attachments is an empty list; a foreign one NOT_FOUND', async () => {
    const k = (await call(h.client, 'putContent', { tenantId: tenant, storageKey: '', contentText: 'none', rawSizeBytes: 0n })).content!.storageKey;
    const res = await call(h.client, 'listAttachments', { tenantId: tenant, parentStorageKey: k, page: undefined });
    expect(res.attachments).toEqual([]);
    expect(res.page!.nextPageToken).toBe('');
    expect((await failure(call(h.client, 'listAttachments', { tenantId: other, parentStorageKey: k, page: undefined }))).code).toBe(status.NOT_FOUND);
  });

  test('page_size over the maximum is INVALID_ARGUMENT', async () => {
    const s = await failure(call(h.client, 'listAttachments', { tenantId: tenant, parentStorageKey: key, page: { pageSize: 11, pageToken: '' } }));
    expect(fields(s)).toEqual(['page.page_size']);
  });
});
