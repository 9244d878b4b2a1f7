/**
 * email_events stores "no campaign / no step / ..." as the nil UUID: those columns are in the
 * sorting key or bloom-filtered, where Nullable is either forbidden or costly.
 */
export const NIL_UUID = '00000000-0000-0000-0000-000000000000';

/** `Date` → `2025-01-31 23:59:59.123`, the DateTime64(3, 'UTC') text form servers and chDB both parse. */
export function toClickHouseTime(d: Date): string {
  const iso = d.toISOString(); // 2025-01-31T23:59:59.123Z (years 0000-9999: validated ranges)
  return `${iso.slice(0, 10)} ${iso.slice(11, 23)}`;
}
