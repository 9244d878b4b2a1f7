import { Cron } from 'croner';

// Cron expressions are parsed by croner (github.com/Hexagon/croner: maintained, no
// dependencies, seconds field, IANA time zones with DST rules) rather than by hand.

/** Why `cron` in `timeZone` cannot be a schedule — the field and the reason — or undefined. */
export function cronProblem(cron: string, timeZone: string): { field: 'cron' | 'time_zone'; message: string } | undefined {
  try {
    // Intl knows the IANA database Node was built with; croner would only fail later, per date.
    new Intl.DateTimeFormat('en-US', { timeZone });
  } catch {
    return { field: 'time_zone', message: `time_zone "${timeZone.slice(0, 60)}" is not an IANA time zone (e.g. "Europe/Berlin", "America/New_York", "UTC")` };
  }
  let next: Date | undefined;
  try {
    next = nextFire(cron, timeZone, new Date());
  } catch (e) {
    return { field: 'cron', message: `cron "${cron.slice(0, 60)}" is not a cron expression: ${(e as Error).message.replace(/^CronPattern: /, '').slice(0, 200)}` };
  }
  if (!next) return { field: 'cron', message: `cron "${cron.slice(0, 60)}" never fires (e.g. a day that no month has); check the day and month fields` };
  return undefined;
}

/** The first fire of `cron` in `timeZone` strictly after `after`; undefined when there is none. */
export function nextFire(cron: string, timeZone: string, after: Date): Date | undefined {
  // 5 fields = minutes, 6 = seconds first; never 7 (a year) nor an ISO date (a one-off).
  const c = new Cron(cron, { timezone: timeZone, paused: true, mode: '5-or-6-parts' });
  return c.nextRun(after) ?? undefined;
}
