import { createHash, randomUUID } from 'node:crypto';
import { contentV1 } from '@penguinmails/contracts';
import { NotFoundError, Validator, decodeCursor, encodeCursor, type CallContext } from '@penguinmails/service-kit';
import type { ServerDeps } from '../deps';
import * as attachments from '../domain/attachments';
import { checkStorageKey } from '../domain/storage-keys';
import { bytesText, dispositionColumn, toAttachment } from './mappers';

const FILENAME_MAX = 255; // the seed's varchar(255)
const MIME_MAX = 100; // the seed's varchar(100)
// RFC 6838 type/subtype names, without parameters (charset goes in the bytes, not here).
const MIME_RE = /^[a-z0-9][a-z0-9!#$&^_.+-]*\/[a-z0-9][a-z0-9!#$&^_.+-]*$/;
// eslint-disable-next-line no-control-regex
const CONTROL_RE = /[\u0000-\u001f\u007f]/;

const SHA256_RE = /^[0-9a-f]{64}$/;
/** Download chunks: default and largest. */
const CHUNK_DEFAULT = 64 * 1024;
const CHUNK_MAX = 1024 * 1024;

/** The descriptive fields AddAttachment and UploadAttachment's metadata share (`prefix` names them). */
function checkAttachmentFields(
  v: Validator,
  prefix: string,
  req: { parentStorageKey: string; filename: string; mimeType: string; storageDisposition: contentV1.StorageDisposition; attachmentId: string },
) {
  const parentStorageKey = checkStorageKey(v, `${prefix}parent_storage_key`, req.parentStorageKey);
  const filename = v.string(`${prefix}filename`, req.filename, { max: FILENAME_MAX, trim: false });
  if (CONTROL_RE.test(filename)) v.add(`${prefix}filename`, 'MALFORMED', 'filename must not contain control characters (tabs, newlines, NUL)');
  const mimeType = v.string(`${prefix}mime_type`, req.mimeType, { max: MIME_MAX }).toLowerCase() || 'application/octet-stream';
  if (mimeType.length <= MIME_MAX && !MIME_RE.test(mimeType))
    v.add(`${prefix}mime_type`, 'MALFORMED', `mime_type must look like type/subtype (e.g. application/pdf, image/png), without parameters; got "${mimeType.slice(0, 60)}"`);
  const disposition = v.enumValue(`${prefix}storage_disposition`, req.storageDisposition, contentV1.StorageDisposition, { required: false });
  const id = v.optionalUuid(`${prefix}attachment_id`, req.attachmentId) ?? randomUUID();
  return { id, parentStorageKey, filename: filename || null, mimeType, storageDisposition: dispositionColumn(disposition) };
}

export function addAttachment(deps: ServerDeps) {
  return async (req: contentV1.AddAttachmentRequest): Promise<contentV1.AddAttachmentResponse> => {
    const v = new Validator();
    const tenantId = v.uuid('tenant_id', req.tenantId);
    const fields = checkAttachmentFields(v, '', req);
    const bytes = Buffer.from(req.content ?? Buffer.alloc(0));
    const max = deps.limits.attachmentMaxBytes;
    if (bytes.length > max)
      v.add('content', 'TOO_LARGE', `content is ${bytes.length} bytes; the limit (ATTACHMENT_MAX_BYTES) is ${bytesText(max)}`);
    v.done();

    const res = await attachments.addAttachment(deps, { ...fields, tenantId, content: bytes });
    return { attachment: toAttachment(res.attachment), created: res.created };
  };
}

/** One violation, thrown at once: a stream is refused at the first wrong message. */
function refuse(field: string, reason: string, description: string): never {
  const v = new Validator();
  v.add(field, reason, description);
  v.done();
  throw new Error('unreachable');
}

/**
 * Upload chunks are grouped up to this many bytes before they are staged in the database (one
 * INSERT per group): an upload holds at most one group (plus the chunk being read) in memory,
 * whatever the file's size. An upload that fits in one group is never staged: it is stored from
 * memory in its one transaction, as AddAttachment.
 */
export const UPLOAD_GROUP_BYTES = 1024 * 1024;
/** Bytes read from the database per DownloadAttachment query (cut into `chunk_size` messages). */
export const DOWNLOAD_SLICE_BYTES = 1024 * 1024;

/**
 * UploadAttachment: metadata first, then chunks at their offsets. The bytes are hashed on the
 * way in and staged in attachment_upload_parts in groups of UPLOAD_GROUP_BYTES (the declared
 * size is checked against ATTACHMENT_MAX_BYTES before they are read); only when the stream ended
 * complete and the digest matches does one transaction assemble the blob in the database and
 * add the attachment. A broken stream deletes what it staged: nothing is left behind (README
 * "Streamed attachments").
 */
export function uploadAttachment(deps: ServerDeps) {
  return async (requests: AsyncIterable<contentV1.UploadAttachmentRequest>, _ctx: CallContext): Promise<contentV1.UploadAttachmentResponse> => {
    const it = requests[Symbol.asyncIterator]();
    const first = await it.next();
    if (first.done) refuse('metadata', 'REQUIRED', 'the stream was empty: the first message must carry tenant_id and metadata');
    const head = first.value;
    const v = new Validator();
    const tenantId = v.uuid('tenant_id', head.tenantId);
    const meta = head.metadata;
    if (!meta) v.add('metadata', 'REQUIRED', 'the first message must carry metadata (then chunks follow in later messages)');
    if (head.chunk) v.add('chunk', 'UNEXPECTED', 'the first message carries metadata only; send the bytes in the messages after it');
    const m = meta ?? { parentStorageKey: '', filename: '', mimeType: '', storageDisposition: 0, attachmentId: '', sizeBytes: 0n, sha256: '' };
    const fields = checkAttachmentFields(v, 'metadata.', m);
    const max = deps.limits.attachmentMaxBytes;
    const size = v.int64('metadata.size_bytes', m.sizeBytes, { min: 0, max: Number.MAX_SAFE_INTEGER });
    if (size > max)
      v.add('metadata.size_bytes', 'TOO_LARGE', `size_bytes is ${size}; the limit (ATTACHMENT_MAX_BYTES) is ${bytesText(max)}`);
    const declared = (m.sha256 ?? '').toLowerCase();
    if (!SHA256_RE.test(declared)) v.add('metadata.sha256', 'MALFORMED', 'sha256 must be the SHA-256 of the bytes as 64 hexadecimal digits');
    v.done();
    // Fail before the bytes travel when the parent is not there (checked again when storing).
    if (!(await attachments.parentExists(deps.pool, tenantId, fields.parentStorageKey)))
      throw new NotFoundError('content_object', fields.parentStorageKey);

    const hash = createHash('sha256');
    const uploadId = randomUUID();
    let group: Buffer[] = [];
    let groupBytes = 0;
    let staged = 0; // groups written to attachment_upload_parts
    let stored = false;
    // One group to the database; the chunks are views of the decoded messages, copied once here.
    const flush = async () => {
      const data = Buffer.concat(group, groupBytes);
      group = [];
      groupBytes = 0;
      await attachments.stageUploadPart(deps.pool, { uploadId, seq: staged++, tenantId, data });
    };
    try {
      let received = 0;
      for (let next = await it.next(); !next.done; next = await it.next()) {
        const msg = next.value;
        if (msg.metadata) refuse('metadata', 'UNEXPECTED', 'only the first message carries metadata');
        if (msg.tenantId && msg.tenantId.toLowerCase() !== tenantId)
          refuse('tenant_id', 'MISMATCH', 'a stream acts for one tenant: later messages leave tenant_id empty or repeat the first one');
        if (!msg.chunk) refuse('chunk', 'REQUIRED', 'every message after the first carries a chunk');
        const offset = msg.chunk.offset;
        if (offset !== BigInt(received))
          refuse('chunk.offset', 'OUT_OF_ORDER', `chunk.offset is ${offset}, expected ${received}: chunks must follow each other without gaps or repeats`);
        const data = msg.chunk.data ?? Buffer.alloc(0);
        if (received + data.length > size)
          refuse('chunk.data', 'TOO_LARGE', `the chunks exceed the declared metadata.size_bytes (${size}) at offset ${received + data.length}`);
        hash.update(data);
        group.push(Buffer.from(data.buffer, data.byteOffset, data.byteLength));
        groupBytes += data.length;
        received += data.length;
        if (groupBytes >= UPLOAD_GROUP_BYTES) await flush();
      }
      if (received !== size)
        refuse('metadata.size_bytes', 'INCOMPLETE', `the stream ended after ${received} of the declared ${size} bytes; nothing was stored`);
      const digest = hash.digest();
      if (digest.toString('hex') !== declared)
        refuse('metadata.sha256', 'CHECKSUM_MISMATCH', `the bytes received have SHA-256 ${digest.toString('hex')}, not the declared one; nothing was stored`);

      let res;
      if (staged === 0) {
        // Small: it fits in one group, stored from memory like AddAttachment.
        res = await attachments.addAttachment(deps, { ...fields, tenantId, content: Buffer.concat(group, groupBytes), sha256: digest });
      } else {
        if (groupBytes) await flush();
        res = await attachments.addAttachment(deps, { ...fields, tenantId, uploadId, sizeBytes: size, sha256: digest });
      }
      stored = true; // the transaction deleted the parts
      return { attachment: toAttachment(res.attachment), created: res.created };
    } finally {
      // Refused, cancelled or failed: what was staged goes before the caller hears of it.
      if (staged > 0 && !stored) await attachments.discardUpload(deps.pool, uploadId).catch(() => undefined);
    }
  };
}

/**
 * DownloadAttachment: the metadata (with the SHA-256 PostgreSQL verified on the stored bytes),
 * then the bytes in chunks, read from the database DOWNLOAD_SLICE_BYTES at a time: a large file
 * is never held whole by the service.
 */
export function downloadAttachment(deps: ServerDeps) {
  return async function* (req: contentV1.DownloadAttachmentRequest): AsyncIterable<contentV1.DownloadAttachmentResponse> {
    const v = new Validator();
    const tenantId = v.uuid('tenant_id', req.tenantId);
    const id = v.uuid('attachment_id', req.attachmentId);
    const chunkSize = v.int('chunk_size', req.chunkSize, { min: 0, max: CHUNK_MAX }) || CHUNK_DEFAULT;
    v.done();
    const row = await attachments.openAttachment(deps.pool, tenantId, id);
    yield { attachment: toAttachment(row) };
    // Slices a whole number of chunks long, so every message but the last is chunk_size.
    const slice = Math.max(chunkSize, Math.floor(DOWNLOAD_SLICE_BYTES / chunkSize) * chunkSize);
    for (let start = 0; start < row.sizeBytes; start += slice) {
      const data = await attachments.readSlice(deps.pool, tenantId, id, start, Math.min(slice, row.sizeBytes - start));
      for (let o = 0; o < data.length; o += chunkSize)
        yield { chunk: { offset: BigInt(start + o), data: data.subarray(o, o + chunkSize) } };
    }
  };
}

export function getAttachment(deps: ServerDeps) {
  return async (req: contentV1.GetAttachmentRequest): Promise<contentV1.GetAttachmentResponse> => {
    const v = new Validator();
    const tenantId = v.uuid('tenant_id', req.tenantId);
    const id = v.uuid('attachment_id', req.attachmentId);
    v.done();
    const row = await attachments.getAttachment(deps.pool, tenantId, id);
    return { attachment: toAttachment(row), content: Buffer.from(row.content) };
  };
}

export function listAttachments(deps: ServerDeps) {
  return async (req: contentV1.ListAttachmentsRequest): Promise<contentV1.ListAttachmentsResponse> => {
    const v = new Validator();
    const tenantId = v.uuid('tenant_id', req.tenantId);
    const parentStorageKey = checkStorageKey(v, 'parent_storage_key', req.parentStorageKey);
    const size = v.pageSize('page.page_size', req.page?.pageSize, { default: deps.limits.pageSizeDefault, max: deps.limits.pageSizeMax });
    v.done();
    // Bound to the tenant and the key: replayed with other ones the token is INVALID_ARGUMENT.
    // (This spelling, not the template's JSON array, so tokens issued before stay valid.)
    const binding = `attachments|${tenantId}|${parentStorageKey}`;
    const cursor = decodeCursor(deps.pageTokens, req.page?.pageToken, binding);
    const page = await attachments.listAttachments(deps.pool, tenantId, parentStorageKey, cursor, size);
    return { attachments: page.rows.map(toAttachment), page: { nextPageToken: encodeCursor(deps.pageTokens, page.next, binding) } };
  };
}
