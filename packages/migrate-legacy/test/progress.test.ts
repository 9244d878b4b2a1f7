// The progress output of `run`: a redrawn bar on a terminal, plain lines otherwise.
import { progressReporter } from '../src/migrate';

test('on a terminal: one \\r-redrawn bar with rate and ETA, a newline only at the end', () => {
  const out: string[] = [];
  const report = progressReporter((s) => out.push(s), true, 0);
  report(250, 1000, 50, '250 migrated, 0 rejected');
  report(1000, 1000, 50, '1000 migrated, 0 rejected', true);
  expect(out[0]).toBe('\r[########----------------------] 250/1000 rows (25.0%), 250 migrated, 0 rejected, 50 rows/s, ETA 15 s\x1b[K');
  expect(out.at(-1)).toMatch(/^\r\[#{30}\] 1000\/1000 rows \(100\.0%\).*ETA 0 s\x1b\[K\n$/);
});

test('otherwise: plain lines, at most one per interval (and always the final one)', () => {
  const out: string[] = [];
  const report = progressReporter((s) => out.push(s), false, 60_000);
  report(10, 100, 5, 'x');
  report(20, 100, 5, 'x'); // within the interval: not printed
  report(100, 100, 5, 'x', true);
  expect(out).toEqual(['10/100 rows (10.0%), x, 5 rows/s, ETA 18 s', '100/100 rows (100.0%), x, 5 rows/s, ETA 0 s']);
});
