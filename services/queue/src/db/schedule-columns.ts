/** The `schedules` columns as the camelCase names of Prisma's `Schedule` model (see job-columns.ts). */
export function scheduleColumns(alias = 'schedules'): string {
  const a = alias + '.';
  return [
    `${a}id`,
    `${a}tenant_id as "tenantId"`,
    `${a}name`,
    `${a}cron`,
    `${a}time_zone as "timeZone"`,
    `${a}queue`,
    `${a}task`,
    `${a}payload`,
    `${a}priority`,
    `${a}max_attempts as "maxAttempts"`,
    `${a}next_fire_at as "nextFireAt"`,
    `${a}last_fire_at as "lastFireAt"`,
    `${a}paused_at as "pausedAt"`,
    `${a}hold_key as "holdKey"`,
    `${a}created`,
    `${a}updated`,
  ].join(', ');
}
