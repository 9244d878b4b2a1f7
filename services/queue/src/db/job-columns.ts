/**
 * The `jobs` columns as the camelCase names of Prisma's `Job` model, so a row returned by
 * hand-written SQL through pg is the same `JobRow` that Prisma returns (pg already parses
 * uuid → string, jsonb → object, timestamptz → Date, integer → number).
 */
export function jobColumns(alias = 'jobs'): string {
  const a = alias + '.';
  return [
    `${a}id`,
    `${a}tenant_id as "tenantId"`,
    `${a}queue`,
    `${a}task`,
    `${a}payload`,
    `${a}status`,
    `${a}priority`,
    `${a}run_at as "runAt"`,
    `${a}attempts`,
    `${a}max_attempts as "maxAttempts"`,
    `${a}locked_by as "lockedBy"`,
    `${a}locked_until as "lockedUntil"`,
    `${a}ended_by as "endedBy"`,
    `${a}idempotency_key as "idempotencyKey"`,
    `${a}last_error as "lastError"`,
    `${a}created`,
    `${a}updated`,
    `${a}finished`,
    `${a}output`,
    `${a}group_key as "groupKey"`,
    `${a}group_limit as "groupLimit"`,
    `${a}singleton_key as "singletonKey"`,
    `${a}throttle_slot as "throttleSlot"`,
    `${a}hold_key as "holdKey"`,
  ].join(', ');
}
