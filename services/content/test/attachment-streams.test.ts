import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { status, type ClientWritableStream, type ServiceError } from '@grpc/grpc-js';
import { contentV1 } from '@penguinmails/contracts';
import { bearerTokenInterceptor, call, decodeStatus, type DecodedStatus } from '@penguinmails/service-kit';
import { pgDigest } from '@penguinmails/testkit';
import { credentials } from '@grpc/grpc-js';
import { sweepOnce } from '../src/domain/retention';
import { UPLOAD_GROUP_BYTES } from '../src/rpc/attachments';
import { MiB, failure, startContent, type Harness } from './harness';

// UploadAttachment (client streaming) and DownloadAttachment (server streaming): round trips,
// dedup by digest with reference counts, and hostile streams (the fuzz engine does not drive
// streams; see fuzz.test.ts), each proving nothing was kept (a digest of every row).

let h: Harness;
const tenant = randomUUID();
const other = randomUUID();
let key: string;
const CHUNK = 64 * 1024;

beforeAll(async () => {
  h = await startContent({ limits: { attachmentMaxBytes: 2 * MiB } });
  key = (await call(h.client, 'putContent', { tenantId: tenant, storageKey: '', contentText: 'see attached', rawSizeBytes: 0n })).content!.storageKey;
});
afterAll(() => h.close());

const hex = (b: Buffer) => createHash('sha256').update(b).digest('hex');
type Msg = contentV1.UploadAttachmentRequest;
const meta = (bytes: Buffer, patch: Partial<contentV1.UploadAttachmentMetadata> = {}, tenantId = tenant): Msg => ({
  tenantId,
  metadata: {
    parentStorageKey: key,
    filename: 'report.pdf',
    mimeType: 'application/pdf',
    storageDisposition: 0,
    attachmentId: '',
    sizeBytes: BigInt(bytes.length),
    sha256: hex(bytes),
    ...patch,
  },
});
const chunks = (bytes: Buffer, size = CHUNK): Msg[] => {
  const out: Msg[] = [];
  for (let o = 0; o < bytes.length; o += size) out.push({ tenantId: '', chunk: { offset: BigInt(o), data: bytes.subarray(o, o + size) } });
  return out;
};

/** Sends the messages; `cancelAfter` cancels the call after that many instead of half-closing. */
function upload(messages: Msg[], opts: { cancelAfter?: number; client?: contentV1.ContentServiceClient } = {}): Promise<contentV1.UploadAttachmentResponse> {
  return new Promise((resolve, reject) => {
    const stream: ClientWritableStream<Msg> = (opts.client ?? h.client).uploadAttachment((err, res) => (err ? reject(err) : resolve(res!)));
    let sent = 0;
    for (const m of messages) {
      if (opts.cancelAfter !== undefined && sent === opts.cancelAfter) break;
      stream.write(m);
      sent++;
    }
    if (opts.cancelAfter !== undefined) setTimeout(() => stream.cancel(), 50);
    else stream.end();
  });
}

function download(req: Partial<contentV1.DownloadAttachmentRequest>): Promise<{ first?: contentV1.Attachment; bytes: Buffer; offsets: bigint[] }> {
  return new Promise((resolve, reject) => {
    const parts: Buffer[] = [];
    const offsets: bigint[] = [];
    let first: contentV1.Attachment | undefined;
    const s = h.client.downloadAttachment({ tenantId: tenant, attachmentId: '', chunkSize: 0, ...req });
    s.on('data', (m: contentV1.DownloadAttachmentResponse) => {
      if (m.attachment) first = m.attachment;
      if (m.chunk) {
        offsets.push(m.chunk.offset);
        parts.push(Buffer.from(m.chunk.data));
      }
    });
    s.on('error', reject);
    s.on('end', () => resolve({ first, bytes: Buffer.concat(parts), offsets }));
  });
}

describe('UploadAttachment / DownloadAttachment', () => {
  test('a 1 MiB upload in 64 KiB chunks round-trips, digest stored, returned and verified', async () => {
    const bytes = randomBytes(MiB + 123);
    const res = await upload([meta(bytes), ...chunks(bytes)]);
    expect(res.created).toBe(true);
    expect(res.attachment).toMatchObject({ tenantId: tenant, parentStorageKey: key, sizeBytes: BigInt(bytes.length), sha256: hex(bytes), mimeType: 'application/pdf' });
    const got = await download({ attachmentId: res.attachment!.id });
    expect(got.first).toEqual(res.attachment);
    expect(got.bytes.equals(bytes)).toBe(true);
    expect(got.offsets.slice(0, 3)).toEqual([0n, 65536n, 131072n]);
    // The unary RPCs see the same attachment.
    const unary = await call(h.client, 'getAttachment', { tenantId: tenant, attachmentId: res.attachment!.id });
    expect(Buffer.from(unary.content).equals(bytes)).toBe(true);
    expect(unary.attachment!.sha256).toBe(hex(bytes));
    // Download with a custom chunk size.
    const small = await download({ attachmentId: res.attachment!.id, chunkSize: 1000 });
    expect(small.offsets.length).toBe(Math.ceil(bytes.length / 1000));
    expect(small.bytes.equals(bytes)).toBe(true);
  });

  test('an empty attachment: metadata only, then the end', async () => {
    const empty = Buffer.alloc(0);
    const res = await upload([meta(empty)]);
    expect(res.attachment!.sizeBytes).toBe(0n);
    const got = await download({ attachmentId: res.attachment!.id });
    expect(got.bytes.length).toBe(0);
    expect(got.offsets).toEqual([]);
  });

  test('identical bytes of one tenant are stored once; deleting respects the reference count', async () => {
    const k = (await call(h.client, 'putContent', { tenantId: tenant, storageKey: '', contentText: 'dedup', rawSizeBytes: 0n })).content!.storageKey;
    const k2 = (await call(h.client, 'putContent', { tenantId: tenant, storageKey: '', contentText: 'dedup 2', rawSizeBytes: 0n })).content!.storageKey;
    const bytes = randomBytes(200_000);
    const before = await h.counts();
    const a = await upload([meta(bytes, { parentStorageKey: k }), ...chunks(bytes)]);
    // The unary path shares the blob too.
    const b = await call(h.client, 'addAttachment', { tenantId: tenant, parentStorageKey: k2, filename: 'copy.pdf', mimeType: 'application/pdf', content: bytes, storageDisposition: 0, attachmentId: '' });
    expect(b.attachment!.sha256).toBe(a.attachment!.sha256);
    const after = await h.counts();
    expect(after.attachments - before.attachments).toBe(2);
    expect(after.blobs - before.blobs).toBe(1);
    const refCount = async () =>
      (await h.pool.query<{ ref_count: number }>(`select ref_count from blobs where tenant_id = $1 and sha256 = decode($2, 'hex')`, [tenant, hex(bytes)])).rows[0]?.ref_count;
    expect(await refCount()).toBe(2);
    // Another tenant's identical bytes get their own blob (no cross-tenant sharing).
    const ok = (await call(h.client, 'putContent', { tenantId: other, storageKey: '', contentText: 'x', rawSizeBytes: 0n })).content!.storageKey;
    await upload([meta(bytes, { parentStorageKey: ok }, other), ...chunks(bytes)]);
    expect((await h.counts()).blobs - before.blobs).toBe(2);

    await call(h.client, 'deleteContent', { tenantId: tenant, storageKey: k });
    expect(await refCount()).toBe(1);
    const still = await download({ attachmentId: b.attachment!.id });
    expect(still.bytes.equals(bytes)).toBe(true);
    await call(h.client, 'deleteContent', { tenantId: tenant, storageKey: k2 });
    expect(await refCount()).toBeUndefined();
  });

  test('idempotent on attachment_id: the same stream again is created = false and stores nothing', async () => {
    const bytes = randomBytes(100_000);
    const id = randomUUID();
    const first = await upload([meta(bytes, { attachmentId: id }), ...chunks(bytes)]);
    const before = await pgDigest(h.pool);
    const again = await upload([meta(bytes, { attachmentId: id }), ...chunks(bytes)]);
    expect(again.created).toBe(false);
    expect(again.attachment).toEqual(first.attachment);
    expect(await pgDigest(h.pool)).toEqual(before);
    const other = randomBytes(100_000);
    const clash = decodeStatus((await upload([meta(other, { attachmentId: id }), ...chunks(other)]).catch((e) => e)) as ServiceError);
    expect(clash.code).toBe(status.ALREADY_EXISTS);
    expect(await pgDigest(h.pool)).toEqual(before);
  });

  test('a stored blob whose bytes no longer match their digest is refused on the way out (INTERNAL), not served', async () => {
    const bytes = randomBytes(5000);
    const res = await upload([meta(bytes), ...chunks(bytes)]);
    await h.pool.query(`update blobs set content = $3 where tenant_id = $1 and sha256 = decode($2, 'hex')`, [tenant, hex(bytes), randomBytes(5000)]);
    const err = (await download({ attachmentId: res.attachment!.id }).catch((e) => e)) as ServiceError;
    expect(err.code).toBe(status.INTERNAL);
    expect((await failure(call(h.client, 'getAttachment', { tenantId: tenant, attachmentId: res.attachment!.id }))).code).toBe(status.INTERNAL);
  });
});

describe('hostile streams keep nothing', () => {
  const bytes = randomBytes(300_000);
  const cases: [string, () => Msg[], string, string][] = [
    ['the stream ends early', () => [meta(bytes), ...chunks(bytes).slice(0, -1)], 'metadata.size_bytes', 'INCOMPLETE'],
    ['a chunk out of order', () => { const c = chunks(bytes); return [meta(bytes), c[1], c[0], ...c.slice(2)]; }, 'chunk.offset', 'OUT_OF_ORDER'],
    ['a chunk repeated', () => { const c = chunks(bytes); return [meta(bytes), c[0], c[0], ...c.slice(1)]; }, 'chunk.offset', 'OUT_OF_ORDER'],
    ['more bytes than declared', () => [meta(bytes, { sizeBytes: BigInt(bytes.length - 10) }), ...chunks(bytes)], 'chunk.data', 'TOO_LARGE'],
    ['checksum mismatch', () => [meta(bytes, { sha256: hex(Buffer.from('other')) }), ...chunks(bytes)], 'metadata.sha256', 'CHECKSUM_MISMATCH'],
    ['declared size over ATTACHMENT_MAX_BYTES', () => [meta(bytes, { sizeBytes: BigInt(2 * MiB + 1) }), ...chunks(bytes)], 'metadata.size_bytes', 'TOO_LARGE'],
    ['malformed sha256', () => [meta(bytes, { sha256: 'abc' }), ...chunks(bytes)], 'metadata.sha256', 'MALFORMED'],
    ['bad mime type', () => [meta(bytes, { mimeType: 'not a type' }), ...chunks(bytes)], 'metadata.mime_type', 'MALFORMED'],
    ['filename with a newline', () => [meta(bytes, { filename: 'a\nb' }), ...chunks(bytes)], 'metadata.filename', 'MALFORMED'],
    ['no metadata first', () => chunks(bytes), 'metadata', 'REQUIRED'],
    ['metadata twice', () => [meta(bytes), meta(bytes), ...chunks(bytes)], 'metadata', 'UNEXPECTED'],
    ['a later message names another tenant', () => { const c = chunks(bytes); c[1] = { ...c[1], tenantId: other }; return [meta(bytes), ...c]; }, 'tenant_id', 'MISMATCH'],
    ['an empty stream', () => [], 'metadata', 'REQUIRED'],
    ['missing tenant_id', () => [meta(bytes, {}, '' as typeof tenant), ...chunks(bytes)], 'tenant_id', 'REQUIRED'],
  ];
  test.each(cases)('%s → INVALID_ARGUMENT naming %s', async (_what, messages, field, reason) => {
    const before = await pgDigest(h.pool);
    const err = (await upload(messages()).catch((e) => e)) as ServiceError;
    const s: DecodedStatus = decodeStatus(err);
    expect(s.code).toBe(status.INVALID_ARGUMENT);
    expect(s.fieldViolations.map((f) => [f.field, f.reason])).toContainEqual([field, reason]);
    expect(await pgDigest(h.pool)).toEqual(before);
  });

  test('a chunk over the gRPC message limit is cut by grpc-js and keeps nothing', async () => {
    const before = await pgDigest(h.pool);
    const big = randomBytes(4 * MiB);
    const err = (await upload([meta(big), { tenantId: '', chunk: { offset: 0n, data: big } }]).catch((e) => e)) as ServiceError;
    expect([status.INVALID_ARGUMENT, status.RESOURCE_EXHAUSTED]).toContain(err.code);
    expect(await pgDigest(h.pool)).toEqual(before);
  });

  test("another tenant's parent is NOT_FOUND before the bytes are read, and keeps nothing", async () => {
    const before = await pgDigest(h.pool);
    const err = (await upload([meta(bytes, {}, other), ...chunks(bytes)]).catch((e) => e)) as ServiceError;
    expect(err.code).toBe(status.NOT_FOUND);
    expect(await pgDigest(h.pool)).toEqual(before);
  });

  test('a client that cancels mid-stream keeps nothing', async () => {
    const before = await pgDigest(h.pool);
    const err = (await upload([meta(bytes), ...chunks(bytes)], { cancelAfter: 3 }).catch((e) => e)) as ServiceError;
    expect(err.code).toBe(status.CANCELLED);
    await new Promise((r) => setTimeout(r, 200));
    expect(await pgDigest(h.pool)).toEqual(before);
  });

  test('a token bound to another tenant is PERMISSION_DENIED on the first message', async () => {
    const authed = await startContent({ authTokens: [`${other}:bound`] });
    try {
      const c = new contentV1.ContentServiceClient(authed.address, credentials.createInsecure(), { interceptors: [bearerTokenInterceptor('bound')] });
      const before = await pgDigest(authed.pool);
      const err = (await upload([meta(bytes), ...chunks(bytes)], { client: c }).catch((e) => e)) as ServiceError;
      expect(err.code).toBe(status.PERMISSION_DENIED);
      expect(await pgDigest(authed.pool)).toEqual(before);
      c.close();
    } finally {
      await authed.close();
    }
  });

  test('DownloadAttachment: bad input, unknown and foreign ids', async () => {
    const own = await upload([meta(bytes), ...chunks(bytes)]);
    const code = async (req: Partial<contentV1.DownloadAttachmentRequest>) => ((await download(req).catch((e) => e)) as ServiceError).code;
    expect(await code({ attachmentId: 'nope' })).toBe(status.INVALID_ARGUMENT);
    expect(await code({ attachmentId: own.attachment!.id, chunkSize: 2 * MiB })).toBe(status.INVALID_ARGUMENT);
    expect(await code({ attachmentId: own.attachment!.id, chunkSize: -1 })).toBe(status.INVALID_ARGUMENT);
    expect(await code({ attachmentId: randomUUID() })).toBe(status.NOT_FOUND);
    expect(await code({ tenantId: other, attachmentId: own.attachment!.id })).toBe(status.NOT_FOUND);
  });
});


// Uploads larger than one group (UPLOAD_GROUP_BYTES) are staged in attachment_upload_parts as
// they arrive and assembled in PostgreSQL at the end: the service never holds them whole.
describe('large uploads are staged in the database, not held in memory', () => {
  const big = randomBytes(UPLOAD_GROUP_BYTES + 300_000); // two groups (the harness allows 2 MiB)
  const parts = async () => Number((await h.pool.query<{ n: string }>('select count(*)::text as n from attachment_upload_parts')).rows[0].n);

  test('the bytes leave the service group by group while the stream is open, and are assembled at its end', async () => {
    let done!: Promise<contentV1.UploadAttachmentResponse>;
    const stream = await new Promise<ClientWritableStream<Msg>>((resolve) => {
      done = new Promise((ok, fail) => resolve(h.client.uploadAttachment((err, res) => (err ? fail(err) : ok(res!)))));
    });
    stream.write(meta(big));
    for (const c of chunks(big)) stream.write(c);
    // The first group is in the database before the stream ends (the last 300 KB are not).
    const staged = async () =>
      (await h.pool.query<{ n: number; bytes: number }>('select count(*)::int as n, coalesce(sum(octet_length(data)), 0)::int as bytes from attachment_upload_parts')).rows[0];
    const until = Date.now() + 20_000;
    while ((await staged()).n === 0 && Date.now() < until) await new Promise((r) => setTimeout(r, 20));
    expect(await staged()).toEqual({ n: 1, bytes: UPLOAD_GROUP_BYTES });
    stream.end();
    const res = await done;
    expect(res.created).toBe(true);
    expect(res.attachment!.sizeBytes).toBe(BigInt(big.length));
    expect(await parts()).toBe(0); // assembled and deleted in the attachment's transaction
    const { rows } = await h.pool.query<{ ok: boolean }>(`select content = $3 as ok from blobs where tenant_id = $1 and sha256 = decode($2, 'hex')`, [tenant, hex(big), big]);
    expect(rows).toEqual([{ ok: true }]);
    // Downloaded in slices of the database and chunks of any size, the same bytes.
    for (const chunkSize of [0, 100_000, 1024 * 1024]) {
      const got = await download({ attachmentId: res.attachment!.id, chunkSize });
      expect(got.bytes.equals(big)).toBe(true);
      expect(got.first!.sha256).toBe(hex(big));
      const size = chunkSize || CHUNK;
      expect(got.offsets).toEqual(Array.from({ length: Math.ceil(big.length / size) }, (_, i) => BigInt(i * size)));
    }
  });

  const broken: [string, () => Msg[], string][] = [
    ['ends early after a group was staged', () => [meta(big), ...chunks(big).slice(0, -1)], 'INCOMPLETE'],
    ['mismatches its checksum after a group was staged', () => [meta(big, { sha256: hex(Buffer.from('other')) }), ...chunks(big)], 'CHECKSUM_MISMATCH'],
    ['sends a chunk out of order after a group was staged', () => { const c = chunks(big); return [meta(big), ...c.slice(0, 17), c[18], c[17], ...c.slice(19)]; }, 'OUT_OF_ORDER'],
  ];
  test.each(broken)('a stream that %s keeps nothing, not even its staged parts', async (_what, messages, reason) => {
    const before = await pgDigest(h.pool);
    const s = decodeStatus((await upload(messages()).catch((e) => e)) as ServiceError);
    expect(s.code).toBe(status.INVALID_ARGUMENT);
    expect(s.fieldViolations.map((f) => f.reason)).toContain(reason);
    expect(await pgDigest(h.pool)).toEqual(before); // attachment_upload_parts included
  });

  test('a client that cancels after a group was staged keeps nothing', async () => {
    const before = await pgDigest(h.pool);
    const err = (await upload([meta(big), ...chunks(big)], { cancelAfter: 20 }).catch((e) => e)) as ServiceError;
    expect(err.code).toBe(status.CANCELLED);
    // The call is answered at once; the handler deletes its parts as it unwinds.
    const until = Date.now() + 10_000;
    while ((await pgDigest(h.pool)) !== before && Date.now() < until) await new Promise((r) => setTimeout(r, 50));
    expect(await pgDigest(h.pool)).toEqual(before);
  });

  test('the retention sweeper deletes parts a dead replica left behind, and only stale ones', async () => {
    const [dead, live] = [randomUUID(), randomUUID()];
    await h.pool.query(
      `insert into attachment_upload_parts (upload_id, seq, tenant_id, data, created) values
         ($1, 0, $3, '\\x01', now() - interval '2 hours'), ($1, 1, $3, '\\x02', now() - interval '2 hours'), ($2, 0, $3, '\\x03', now())`,
      [dead, live, tenant],
    );
    const res = await sweepOnce({ pool: h.pool, names: h.names }, { batchSize: 1, batchBytes: MiB, defaults: { maxAgeDays: 0, maxTotalBytes: 0 }, uploadStaleMs: 3_600_000 });
    expect(res.uploadParts).toBe(2);
    const { rows } = await h.pool.query<{ upload_id: string }>('select upload_id from attachment_upload_parts');
    expect(rows).toEqual([{ upload_id: live }]);
    await h.pool.query('delete from attachment_upload_parts');
  });
});
