import { randomUUID } from 'node:crypto';
import { contentV1 } from '@penguinmails/contracts';
import { Validator, decodeCursor, encodeCursor } from '@penguinmails/service-kit';
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

export function addAttachment(deps: ServerDeps) {
  return async (req: contentV1.AddAttachmentRequest): Promise<contentV1.AddAttachmentResponse> => {
    const v = new Validator();
    const tenantId = v.uuid('tenant_id', req.tenantId);
    const parentStorageKey = checkStorageKey(v, 'parent_storage_key', req.parentStorageKey);
    const filename = v.string('filename', req.filename, { max: FILENAME_MAX, trim: false });
    if (CONTROL_RE.test(filename)) v.add('filename', 'MALFORMED', 'filename must not contain control characters (tabs, newlines, NUL)');
    const mimeType = v.string('mime_type', req.mimeType, { max: MIME_MAX }).toLowerCase() || 'application/octet-stream';
    if (mimeType.length <= MIME_MAX && !MIME_RE.test(mimeType))
      v.add('mime_type', 'MALFORMED', `mime_type must look like type/subtype (e.g. application/pdf, image/png), without parameters; got "${mimeType.slice(0, 60)}"`);
    const bytes = Buffer.from(req.content ?? Buffer.alloc(0));
    const max = deps.limits.attachmentMaxBytes;
    if (bytes.length > max)
      v.add('content', 'TOO_LARGE', `content is ${bytes.length} bytes; the limit (ATTACHMENT_MAX_BYTES) is ${bytesText(max)}`);
    const disposition = v.enumValue('storage_disposition', req.storageDisposition, contentV1.StorageDisposition, { required: false });
    const id = v.optionalUuid('attachment_id', req.attachmentId) ?? randomUUID();
    v.done();

    const res = await attachments.addAttachment(deps, {
      id,
      tenantId,
      parentStorageKey,
      filename: filename || null,
      mimeType,
      content: bytes,
      storageDisposition: dispositionColumn(disposition),
    });
    return { attachment: toAttachment(res.attachment), created: res.created };
  };
}

export function getAttachment(deps: ServerDeps) {
  return async (req: contentV1.GetAttachmentRequest): Promise<contentV1.GetAttachmentResponse> => {
    const v = new Validator();
    const tenantId = v.uuid('tenant_id', req.tenantId);
    const id = v.uuid('attachment_id', req.attachmentId);
    v.done();
    const row = await attachments.getAttachment(deps.prisma, tenantId, id);
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
