import type { metadataV1 } from '@penguinmails/contracts';
import { Validator } from '@penguinmails/service-kit';
import { NO_CONTENT, contentStore } from '../clients/content';
import type { ServerDeps } from '../deps';
import { ingestMessage, type IngestAttachment, type IngestBody } from '../domain/ingest';
import { tenantOf } from './fields';
import { messageToProto } from './mappers';
import { messageInput } from './messages';

/** The contract's limit of one IngestMessage. */
const ATTACHMENTS_MAX = 20;
// The content tier's attachment rules (services/content/src/rpc/attachments.ts), checked here
// too so that a bad attachment is refused before the body is stored, not after.
const FILENAME_MAX = 255;
const MIME_MAX = 100;
const MIME_RE = /^[a-z0-9][a-z0-9!#$&^_.+-]*\/[a-z0-9][a-z0-9!#$&^_.+-]*$/;
// eslint-disable-next-line no-control-regex
const CONTROL_RE = /[\u0000-\u001f\u007f]/;
const INT4_MAX = 2_147_483_647;

function bodyOf(v: Validator, b: metadataV1.MessageBody | undefined): IngestBody {
  const rawSizeBytes = v.int64('body.raw_size_bytes', b?.rawSizeBytes, { min: 0, max: INT4_MAX });
  if (b?.expires && !(b.expires.getTime() > Date.now())) v.add('body.expires', 'OUT_OF_RANGE', 'body.expires must be in the future (or absent: the content tier\'s default retention)');
  return { contentText: b?.contentText, contentHtml: b?.contentHtml, headers: b?.headers, rawSizeBytes, expires: b?.expires };
}

function attachmentsOf(v: Validator, list: metadataV1.MessageAttachment[]): IngestAttachment[] {
  if (list.length > ATTACHMENTS_MAX) {
    v.add('attachments', 'TOO_MANY', `at most ${ATTACHMENTS_MAX} attachments per message, got ${list.length}`);
    return [];
  }
  return list.map((a, i) => {
    const f = `attachments[${i}]`;
    const filename = v.string(`${f}.filename`, a.filename, { max: FILENAME_MAX, trim: false });
    if (CONTROL_RE.test(filename)) v.add(`${f}.filename`, 'MALFORMED', `${f}.filename must not contain control characters (tabs, newlines, NUL)`);
    const mimeType = v.string(`${f}.mime_type`, a.mimeType, { max: MIME_MAX }).toLowerCase();
    if (mimeType && mimeType.length <= MIME_MAX && !MIME_RE.test(mimeType))
      v.add(`${f}.mime_type`, 'MALFORMED', `${f}.mime_type must look like type/subtype (e.g. application/pdf), without parameters`);
    return { filename, mimeType, content: Buffer.from(a.content), inline: a.inline };
  });
}

export function ingestHandlers(deps: ServerDeps) {
  const content = deps.content ? contentStore(deps.content) : NO_CONTENT;
  return {
    async ingestMessage(req: metadataV1.IngestMessageRequest): Promise<metadataV1.IngestMessageResponse> {
      const v = new Validator();
      const tenantId = tenantOf(v, req.tenantId);
      const input = messageInput(v, 'message', req.message, v.ok ? tenantId : undefined);
      if (req.message?.contentStorageKey) {
        v.add('message.content_storage_key', 'NOT_ALLOWED', 'message.content_storage_key must be empty: IngestMessage stores the body and chooses the key');
      }
      const body = bodyOf(v, req.body);
      const attachments = attachmentsOf(v, req.attachments);
      v.done();
      const r = await ingestMessage({ pool: deps.pool, names: deps.names, content }, tenantId, input, body, attachments);
      return { message: messageToProto(r.row), created: r.created };
    },
  };
}
