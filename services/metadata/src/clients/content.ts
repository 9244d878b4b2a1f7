import { status as Status, type ServiceError } from '@grpc/grpc-js';
import type { contentV1 } from '@penguinmails/contracts';
import {
  AbortedError,
  AlreadyExistsError,
  DeadlineExceededError,
  InvalidArgumentError,
  UnavailableError,
  call,
  decodeStatus,
} from '@penguinmails/service-kit';
import type { ContentStore } from '../domain/ingest';

// The content tier as IngestMessage calls it: the kit's promise-style calls on the gRPC client,
// with the time left of the caller's deadline, and the content tier's statuses turned into the
// kit's errors under the field names of IngestMessage (the caller never sees the content
// tier's request, so `content_text` must read `body.content_text`).

/** Content's PutContent fields → IngestMessage's. */
const BODY_FIELDS: Record<string, string> = {
  content_text: 'body.content_text',
  content_html: 'body.content_html',
  headers: 'body.headers',
  raw_size_bytes: 'body.raw_size_bytes',
  expires: 'body.expires',
};

/** The error IngestMessage answers for a failed content call; `field` maps a content field to ours. */
function translate(err: unknown, what: string, field: (f: string) => string): Error {
  const e = err as ServiceError;
  if (typeof e?.code !== 'number') return err as Error;
  const st = decodeStatus(e);
  switch (e.code) {
    case Status.INVALID_ARGUMENT:
      return new InvalidArgumentError(
        st.fieldViolations.length
          ? st.fieldViolations.map((v) => ({ field: field(v.field), reason: v.reason, description: `the content tier refused it: ${v.description}` }))
          : [{ field: field(''), reason: 'REFUSED', description: `the content tier refused it: ${st.message}` }],
      );
    case Status.RESOURCE_EXHAUSTED:
      return new InvalidArgumentError([{ field: field('content'), reason: 'TOO_LARGE', description: `larger than the content tier accepts in one message (${st.message})` }]);
    case Status.ALREADY_EXISTS:
      return new AlreadyExistsError(
        'message',
        what,
        `${what}: the content tier already holds other content under this message's key (an earlier attempt with the same provider_message_id / client_key sent a different body or attachments); send the same body again, or use a new key`,
      );
    case Status.NOT_FOUND:
      // The object PutContent just stored is gone (deleted or collected meanwhile): start over.
      return new AbortedError(`${what}: the content object disappeared while its attachments were added; retry the call`);
    case Status.DEADLINE_EXCEEDED:
      return new DeadlineExceededError(`the deadline passed while the content tier was storing the ${what}; nothing was recorded, retry`);
    case Status.UNAVAILABLE:
    case Status.UNAUTHENTICATED:
    case Status.PERMISSION_DENIED:
    case Status.CANCELLED:
    case Status.ABORTED:
      return new UnavailableError(`the content tier did not take the ${what} (${Status[e.code]}: ${st.message}); nothing was recorded, retry`, { cause: err });
    default:
      return new UnavailableError(`the content tier failed storing the ${what} (${Status[e.code]}); nothing was recorded, retry`, { cause: err });
  }
}

/** A ContentStore over the content tier's gRPC client. */
export function contentStore(client: contentV1.ContentServiceClient): ContentStore {
  return {
    async putContent(req, deadlineMs) {
      try {
        return await call(client, 'putContent', req, { deadlineMs });
      } catch (err) {
        throw translate(err, 'message body', (f) => BODY_FIELDS[f] ?? 'body');
      }
    },
    async addAttachment(req, deadlineMs, index) {
      try {
        return await call(client, 'addAttachment', req, { deadlineMs });
      } catch (err) {
        throw translate(err, `attachment ${index}`, (f) => (['filename', 'mime_type', 'content'].includes(f) ? `attachments[${index}].${f}` : `attachments[${index}]`));
      }
    },
  };
}

/** IngestMessage without a content tier configured (tests of other RPCs): UNAVAILABLE at once. */
export const NO_CONTENT: ContentStore = {
  putContent: () => Promise.reject(new UnavailableError('the content tier is not configured for this metadata server (CONTENT_URL); nothing was recorded')),
  addAttachment: () => Promise.reject(new UnavailableError('the content tier is not configured for this metadata server (CONTENT_URL); nothing was recorded')),
};
