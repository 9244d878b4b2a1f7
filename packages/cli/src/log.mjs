// Output helpers. The launcher's own lines start with "platform:" so they stand out between the
// services' prefixed logs; errors go to stderr.
import { createInterface } from 'node:readline';

const useColor = process.stdout.isTTY && !process.env.NO_COLOR;
const COLORS = [36, 35, 33, 32, 34, 31];

export function say(message) {
  process.stdout.write(`platform: ${message}\n`);
}

export function warn(message) {
  process.stderr.write(`platform: warning: ${message}\n`);
}

export function sayError(message) {
  process.stderr.write(`platform: error: ${message}\n`);
}

/**
 * Hides the credentials of a URL before it is printed: the password, or a lone user name (in
 * `nats://<token>@host` that is the secret). An unparseable value is scrubbed as text, never
 * echoed as is. Mirrors `redact` of @penguinmails/service-kit, which the launcher cannot import:
 * it runs before the kit is built.
 */
export function redact(url) {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    else if (u.username) u.username = '***';
    return u.toString();
  } catch {
    return String(url)
      .replace(/(\/\/)([^\s/@:]+)@/g, '$1***@')
      .replace(/([^\s/@:]*):([^\s/@]+)@/g, '$1:***@');
  }
}

/**
 * Copies a child's stdout/stderr to ours, line by line, each line prefixed with `name | `.
 * Lines (not chunks) so that two services' output never interleaves mid-line.
 */
export function prefixOutput(child, name, width, index) {
  const label = name.padEnd(width);
  const prefix = useColor ? `\x1b[${COLORS[index % COLORS.length]}m${label} |\x1b[0m ` : `${label} | `;
  for (const [stream, target] of [[child.stdout, process.stdout], [child.stderr, process.stderr]]) {
    if (!stream) continue;
    createInterface({ input: stream, crlfDelay: Infinity }).on('line', (line) => target.write(prefix + line + '\n'));
  }
}

/** Prints rows as a plain aligned table (first row is the header). */
export function printTable(rows) {
  const widths = rows[0].map((_, col) => Math.max(...rows.map((row) => String(row[col]).length)));
  const line = (row) => row.map((cell, col) => String(cell).padEnd(widths[col])).join('  ').trimEnd();
  process.stdout.write(line(rows[0]) + '\n');
  process.stdout.write(widths.map((w) => '-'.repeat(w)).join('  ') + '\n');
  for (const row of rows.slice(1)) process.stdout.write(line(row) + '\n');
}
