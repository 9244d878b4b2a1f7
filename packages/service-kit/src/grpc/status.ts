import { Metadata, status as Status, type ServiceError } from '@grpc/grpc-js';
import { googleProtobuf, googleRpc } from '@penguinmails/contracts';
import {
  AbortedError,
  AlreadyExistsError,
  DeadlineExceededError,
  DomainError,
  FailedPreconditionError,
  InvalidArgumentError,
  NotFoundError,
  PermissionDeniedError,
  UnauthenticatedError,
  UnavailableError,
  asError,
} from '../errors';
import { MAX_DETAIL_TEXT, MAX_FIELD_VIOLATIONS, MAX_STATUS_MESSAGE, safeText } from './safe-text';

const TYPE_PREFIX = 'type.googleapis.com/';

function any(typeName: string, value: Uint8Array): googleProtobuf.Any {
  return { typeUrl: TYPE_PREFIX + typeName, value: Buffer.from(value) };
}

/** PostgreSQL SQLSTATEs and socket errors that mean "the database is not there right now". */
const UNAVAILABLE_PG_CODES = new Set(['57P01', '57P02', '57P03', '08000', '08001', '08003', '08006', '53300']);
const UNAVAILABLE_NODE_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENOTFOUND', 'EPIPE']);

/** Translates driver errors we can name into domain errors; anything else stays as is. */
export function classifyError(err: unknown): Error {
  const e = asError(err);
  if (e instanceof DomainError) return e;
  const code = (e as { code?: unknown }).code;
  if (typeof code === 'string') {
    // Prisma client errors (known request errors carry P-codes).
    if (code === 'P2002') {
      const target = (e as { meta?: { target?: unknown } }).meta?.target;
      const key = Array.isArray(target) ? target.join(', ') : String(target ?? 'unique key');
      return new AlreadyExistsError('row', key, `a row with the same ${key} already exists`, { cause: e });
    }
    if (code === 'P2025') return new NotFoundError('row', '', 'the row to change does not exist');
    if (code === 'P2034') return new AbortedError('concurrent update conflict; retry the call', { cause: e });
    if (code === 'P1001' || code === 'P1002' || code === 'P1017')
      return new UnavailableError('the database is unavailable; retry with backoff', { cause: e });
    if (code === '23505') {
      const constraint = (e as { constraint?: string }).constraint ?? 'unique key';
      return new AlreadyExistsError('row', constraint, `a row with the same ${constraint} already exists`, { cause: e });
    }
    // query_canceled: our statement_timeout (the call's deadline, or the pool's cap) fired.
    if (code === '57014') return new DeadlineExceededError('the deadline passed while the database was working; nothing was committed', { cause: e });
    // ClickHouse TIMEOUT_EXCEEDED: max_execution_time (the call's deadline) stopped the query.
    if (code === '159') return new DeadlineExceededError('the deadline passed while ClickHouse was working', { cause: e });
    if (code === '40001' || code === '40P01')
      return new AbortedError('concurrent update conflict; retry the call', { cause: e });
    if (UNAVAILABLE_PG_CODES.has(code) || UNAVAILABLE_NODE_CODES.has(code))
      return new UnavailableError('the database is unavailable; retry with backoff', { cause: e });
  }
  // pg's own messages: the socket closed under a query, no connection within the pool's
  // connectionTimeoutMillis, and a query sent on a client whose connection had already failed
  // (a database restart between two statements of one transaction; seen as INTERNAL in the
  // kill -9 PostgreSQL fault test).
  if (/Connection terminated|timeout exceeded when trying to connect|Client has encountered a connection error and is not queryable/i.test(e.message))
    return new UnavailableError('the database is unavailable; retry with backoff', { cause: e });
  return e;
}

/**
 * The one place where errors become gRPC statuses. Every status carries a google.rpc.Status
 * in the `grpc-status-details-bin` trailer with an ErrorInfo (reason, domain) and, where it
 * applies, a BadRequest / ResourceInfo / PreconditionFailure detail.
 *
 * Unknown errors become INTERNAL with a generic message: their text may hold internals, and
 * is logged with the request id instead.
 *
 * Everything a caller's input can reach (the message, each description) is made well-formed
 * and bounded here (safe-text.ts says why), and at most MAX_FIELD_VIOLATIONS violations are
 * sent, the rest counted in one more: 5,000 bad leads must not make a status too large to send.
 */
export function toServiceError(err: unknown, domain: string, requestId?: string): ServiceError {
  const e = classifyError(err);
  let code: Status;
  let reason: string;
  const details: googleProtobuf.Any[] = [];
  let message = e.message;
  const text = (t: string) => safeText(t, MAX_DETAIL_TEXT);

  if (e instanceof InvalidArgumentError) {
    code = Status.INVALID_ARGUMENT;
    reason = 'INVALID_ARGUMENT';
    const shown = e.violations.slice(0, MAX_FIELD_VIOLATIONS);
    const more = e.violations.length - shown.length;
    const fieldViolations = shown.map((v) => ({ field: text(v.field), description: text(v.description), reason: text(v.reason) }));
    if (more > 0)
      fieldViolations.push({ field: '', reason: 'MORE_VIOLATIONS', description: `and ${more} more violation${more === 1 ? '' : 's'} not listed; fix these and retry to see them` });
    message = fieldViolations.map((v) => (v.field ? `${v.field}: ${v.description}` : v.description)).join('; ');
    details.push(any('google.rpc.BadRequest', googleRpc.BadRequest.encode({ fieldViolations }).finish()));
  } else if (e instanceof NotFoundError || e instanceof AlreadyExistsError) {
    code = e instanceof NotFoundError ? Status.NOT_FOUND : Status.ALREADY_EXISTS;
    reason = e instanceof NotFoundError ? 'NOT_FOUND' : 'ALREADY_EXISTS';
    details.push(
      any(
        'google.rpc.ResourceInfo',
        googleRpc.ResourceInfo.encode({
          resourceType: text(e.resourceType),
          resourceName: text(e.resourceName),
          owner: '',
          description: text(e.message),
        }).finish(),
      ),
    );
  } else if (e instanceof FailedPreconditionError) {
    code = Status.FAILED_PRECONDITION;
    reason = 'FAILED_PRECONDITION';
    details.push(
      any(
        'google.rpc.PreconditionFailure',
        googleRpc.PreconditionFailure.encode({
          violations: [{ type: text(e.type), subject: text(e.subject), description: text(e.message) }],
        }).finish(),
      ),
    );
  } else if (e instanceof PermissionDeniedError) {
    code = Status.PERMISSION_DENIED;
    reason = 'PERMISSION_DENIED';
  } else if (e instanceof UnauthenticatedError) {
    code = Status.UNAUTHENTICATED;
    reason = 'UNAUTHENTICATED';
  } else if (e instanceof UnavailableError) {
    code = Status.UNAVAILABLE;
    reason = 'UNAVAILABLE';
  } else if (e instanceof AbortedError) {
    code = Status.ABORTED;
    reason = 'ABORTED';
  } else if (e instanceof DeadlineExceededError || (e as { code?: unknown }).code === Status.DEADLINE_EXCEEDED || e.name === 'AbortError') {
    code = Status.DEADLINE_EXCEEDED;
    reason = 'DEADLINE_EXCEEDED';
    message = e instanceof DeadlineExceededError ? e.message : 'the deadline passed before the call finished';
  } else {
    code = Status.INTERNAL;
    reason = 'INTERNAL';
    message = `internal error${requestId ? ` (request id ${requestId})` : ''}`;
  }

  message = safeText(message, MAX_STATUS_MESSAGE);
  details.unshift(
    any('google.rpc.ErrorInfo', googleRpc.ErrorInfo.encode({ reason, domain, metadata: requestId ? { requestId } : {} }).finish()),
  );
  const metadata = new Metadata();
  metadata.set(
    'grpc-status-details-bin',
    Buffer.from(googleRpc.Status.encode({ code, message, details }).finish()),
  );
  const serviceError = Object.assign(new Error(message), { code, details: message, metadata }) as ServiceError;
  return serviceError;
}

/** Decoded rich error details of a failed call (for clients and tests). */
export interface DecodedStatus {
  code: number;
  message: string;
  errorInfo?: googleRpc.ErrorInfo;
  fieldViolations: googleRpc.BadRequest_FieldViolation[];
  resourceInfo?: googleRpc.ResourceInfo;
  preconditionViolations: googleRpc.PreconditionFailure_Violation[];
}

/** Reads the google.rpc.Status trailer of a ServiceError received by a client. */
export function decodeStatus(err: ServiceError): DecodedStatus {
  const out: DecodedStatus = { code: err.code, message: err.details, fieldViolations: [], preconditionViolations: [] };
  const raw = err.metadata?.get('grpc-status-details-bin')?.[0];
  if (!raw || typeof raw === 'string') return out;
  const st = googleRpc.Status.decode(raw);
  for (const d of st.details) {
    const type = d.typeUrl.slice(d.typeUrl.lastIndexOf('/') + 1);
    if (type === 'google.rpc.ErrorInfo') out.errorInfo = googleRpc.ErrorInfo.decode(d.value);
    else if (type === 'google.rpc.BadRequest') out.fieldViolations.push(...googleRpc.BadRequest.decode(d.value).fieldViolations);
    else if (type === 'google.rpc.ResourceInfo') out.resourceInfo = googleRpc.ResourceInfo.decode(d.value);
    else if (type === 'google.rpc.PreconditionFailure')
      out.preconditionViolations.push(...googleRpc.PreconditionFailure.decode(d.value).violations);
  }
  return out;
}
