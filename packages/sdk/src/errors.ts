import { status, type ServiceError } from '@grpc/grpc-js';
import { decodeStatus } from '@penguinmails/service-kit';

/** One wrong field of an INVALID_ARGUMENT answer, e.g. `{ field: 'tenant_id', description: 'must be a UUID' }`. */
export interface FieldViolation {
  field: string;
  description: string;
  reason: string;
}

/** gRPC status code → its name (`3` → `INVALID_ARGUMENT`). */
export function codeName(code: number): string {
  const name = (status as unknown as Record<number, string>)[code];
  return typeof name === 'string' ? name : `CODE_${code}`;
}

/**
 * Every failed SDK call rejects with this: the gRPC code (number and name), the service's message,
 * and the decoded `google.rpc.Status` details (field violations, error info, resource info,
 * precondition failures).
 */
export class PenguinMailsError extends Error {
  override name = 'PenguinMailsError';
  /** gRPC status code, e.g. 3. */
  readonly code: number;
  /** Its name, e.g. `INVALID_ARGUMENT`, `NOT_FOUND`, `UNAVAILABLE`. */
  readonly codeName: string;
  /** `<service>.<method>` that failed, e.g. `metadata.createUser`. */
  readonly rpc: string;
  /** Attempts made (more than 1 when the SDK retried). */
  readonly attempts: number;
  /** For INVALID_ARGUMENT: each wrong field (snake_case paths as in the proto, e.g. `messages[3].subject`). */
  readonly fieldViolations: FieldViolation[];
  /** `google.rpc.ErrorInfo.reason` (e.g. `NOT_FOUND`) and `domain` (e.g. `penguinmails.metadata`), when sent. */
  readonly reason?: string;
  readonly domain?: string;
  /** The request id the service logged the failure with (quote it when reporting an INTERNAL). */
  readonly requestId?: string;
  /** For NOT_FOUND / ALREADY_EXISTS: which resource. */
  readonly resource?: { type: string; name: string; description: string };
  /** For FAILED_PRECONDITION: what was not satisfied. */
  readonly preconditionViolations: { type: string; subject: string; description: string }[];

  constructor(init: {
    code: number;
    message: string;
    rpc: string;
    attempts?: number;
    fieldViolations?: FieldViolation[];
    reason?: string;
    domain?: string;
    requestId?: string;
    resource?: { type: string; name: string; description: string };
    preconditionViolations?: { type: string; subject: string; description: string }[];
    cause?: unknown;
  }) {
    super(init.message, { cause: init.cause });
    this.code = init.code;
    this.codeName = codeName(init.code);
    this.rpc = init.rpc;
    this.attempts = init.attempts ?? 1;
    this.fieldViolations = init.fieldViolations ?? [];
    this.reason = init.reason;
    this.domain = init.domain;
    this.requestId = init.requestId;
    this.resource = init.resource;
    this.preconditionViolations = init.preconditionViolations ?? [];
  }

  /** One line for people: `INVALID_ARGUMENT: tenant_id: must be a UUID` (the CLI prints this). */
  describe(): string {
    return `${this.codeName}: ${this.message}`;
  }

  /** Plain data (JSON output, logs). */
  toJSON(): Record<string, unknown> {
    return {
      code: this.code,
      codeName: this.codeName,
      message: this.message,
      rpc: this.rpc,
      attempts: this.attempts,
      fieldViolations: this.fieldViolations,
      reason: this.reason,
      domain: this.domain,
      requestId: this.requestId,
      resource: this.resource,
      preconditionViolations: this.preconditionViolations,
    };
  }
}

function isServiceError(err: unknown): err is ServiceError {
  return typeof err === 'object' && err !== null && typeof (err as { code?: unknown }).code === 'number' && 'metadata' in err;
}

/** Wraps whatever a call rejected with into a PenguinMailsError (decoding the status details). */
export function toPenguinMailsError(err: unknown, rpc: string, attempts = 1): PenguinMailsError {
  if (err instanceof PenguinMailsError) return err;
  if (isServiceError(err)) {
    let decoded: ReturnType<typeof decodeStatus> | undefined;
    try {
      decoded = decodeStatus(err);
    } catch {
      decoded = undefined; // a trailer we cannot read: keep the code and message
    }
    const message = decoded?.message || err.details || err.message || codeName(err.code);
    return new PenguinMailsError({
      code: err.code,
      message,
      rpc,
      attempts,
      fieldViolations: (decoded?.fieldViolations ?? []).map((v) => ({ field: v.field, description: v.description, reason: v.reason })),
      reason: decoded?.errorInfo?.reason,
      domain: decoded?.errorInfo?.domain,
      requestId: decoded?.errorInfo?.metadata?.requestId,
      resource: decoded?.resourceInfo
        ? { type: decoded.resourceInfo.resourceType, name: decoded.resourceInfo.resourceName, description: decoded.resourceInfo.description }
        : undefined,
      preconditionViolations: (decoded?.preconditionViolations ?? []).map((v) => ({ type: v.type, subject: v.subject, description: v.description })),
      cause: err,
    });
  }
  // Not a gRPC status: the request could not even be encoded (e.g. a string where a number goes).
  const e = err instanceof Error ? err : new Error(String(err));
  return new PenguinMailsError({ code: status.INVALID_ARGUMENT, message: `the request could not be encoded: ${e.message}`, rpc, attempts, cause: e });
}
