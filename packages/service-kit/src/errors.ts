/**
 * The domain errors a service throws. Handlers never build gRPC statuses themselves:
 * {@link toServiceError} (grpc/status.ts) is the one place that maps these to status codes.
 */

/** One wrong field of a request, as sent in google.rpc.BadRequest. */
export interface FieldViolation {
  /** Path of the field as the caller spells it, e.g. `messages[3].from_email`. */
  field: string;
  /** What is wrong and what to send instead. */
  description: string;
  /** Machine-readable: REQUIRED, NOT_A_UUID, TOO_LONG, NOT_AN_EMAIL, UNKNOWN_VALUE, OUT_OF_RANGE, MALFORMED. */
  reason: string;
}

export abstract class DomainError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}

/** INVALID_ARGUMENT: the request is wrong; nothing was written. */
export class InvalidArgumentError extends DomainError {
  override name = 'InvalidArgumentError';
  constructor(public readonly violations: FieldViolation[]) {
    super(violations.map((v) => `${v.field}: ${v.description}`).join('; '));
  }
}

/** NOT_FOUND: the resource does not exist for this tenant (or belongs to another one). */
export class NotFoundError extends DomainError {
  override name = 'NotFoundError';
  constructor(
    public readonly resourceType: string,
    public readonly resourceName: string,
    description?: string,
  ) {
    super(description ?? `${resourceType} ${resourceName} not found`);
  }
}

/** ALREADY_EXISTS: a unique key is taken. */
export class AlreadyExistsError extends DomainError {
  override name = 'AlreadyExistsError';
  constructor(
    public readonly resourceType: string,
    public readonly resourceName: string,
    description?: string,
    options?: { cause?: unknown },
  ) {
    super(description ?? `${resourceType} ${resourceName} already exists`, options);
  }
}

/** FAILED_PRECONDITION: the request is valid but the resource's state forbids it (e.g. a status transition). */
export class FailedPreconditionError extends DomainError {
  override name = 'FailedPreconditionError';
  constructor(
    public readonly subject: string,
    description: string,
    public readonly type = 'STATE',
  ) {
    super(description);
  }
}

/** UNAUTHENTICATED: no bearer token, or one the server does not accept. */
export class UnauthenticatedError extends DomainError {
  override name = 'UnauthenticatedError';
}

/** PERMISSION_DENIED: the caller is authenticated but may not act for this tenant or call this method. */
export class PermissionDeniedError extends DomainError {
  override name = 'PermissionDeniedError';
}

/** UNAVAILABLE: a dependency did not answer; the caller may retry with backoff. */
export class UnavailableError extends DomainError {
  override name = 'UnavailableError';
}

/** ABORTED: a concurrency conflict (serialization failure, deadlock); retry the whole call. */
export class AbortedError extends DomainError {
  override name = 'AbortedError';
}

/** DEADLINE_EXCEEDED: the call's deadline passed; nothing was committed. */
export class DeadlineExceededError extends DomainError {
  override name = 'DeadlineExceededError';
}

/** Coerces any thrown value into an Error, keeping the original as `cause`. */
export function asError(value: unknown): Error {
  if (value instanceof Error) return value;
  return new Error(typeof value === 'string' ? value : `non-error thrown: ${JSON.stringify(value)}`, { cause: value });
}
