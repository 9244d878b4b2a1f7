// Keeping secrets out of log lines and error messages. Logs and errors are copied to
// collectors, tickets and chat; a secret that reaches them has to be rotated. So every URL
// that is logged or put into an error goes through `redact`, every driver message through
// `redactText`, and configuration errors never echo a secret-bearing variable's value.

/** Query parameters that carry credentials in connection URLs (pg's `?password=`, tokens...). */
const SECRET_PARAM = /pass|secret|token|credential|auth|key/i;

/**
 * The URL with its credentials hidden, for messages and logs:
 * `postgres://app:s3cret@db/x` → `postgres://app:***@db/x`. The user name is kept when there is
 * a password (it helps to fix an "authentication failed"); a lone user name is hidden, since in
 * `nats://<token>@host` it *is* the secret. Credential-like query parameters are hidden too.
 * An unparseable value is scrubbed as text (see {@link redactText}).
 */
export function redact(url: string): string {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    return redactText(url);
  }
  if (u.password) u.password = '***';
  else if (u.username) u.username = '***';
  for (const key of [...u.searchParams.keys()]) if (SECRET_PARAM.test(key)) u.searchParams.set(key, '***');
  // A URL such as `nats://a:1,b:2` may parse with credentials left in the path; scrub the rest.
  return redactText(u.toString());
}

// `user:password@` anywhere (also without a scheme, e.g. a mistyped `postgres//u:p@h`). No
// quotes, blanks or slashes in either part: this also runs over JSON log lines, where
// `"email":"a@b.c"` must not match.
const USER_PASSWORD = /([^\s/@:"'=]*):([^\s/@"']+)@/g;
// `scheme://token@` (a lone user name right after `//`).
const LONE_USERINFO = /(\/\/)([^\s/@:"']+)@/g;
// `password=...` in query strings and libpq keyword/value strings.
const SECRET_ASSIGNMENT = /\b((?:[a-z_]*)(?:password|passwd|secret|token))=([^&\s"']+)/gi;

/**
 * Scrubs credentials out of free text: driver error messages and stacks, whole log lines. A
 * backstop for text we did not build ourselves (the URLs we do build go through `redact`).
 */
export function redactText(text: string): string {
  if (!text.includes('@') && !text.includes('=')) return text;
  return text
    .replace(LONE_USERINFO, (m, slashes: string, user: string) => (user === '***' ? m : `${slashes}***@`))
    .replace(USER_PASSWORD, (m, user: string, pass: string) => (pass === '***' ? m : `${user}:***@`))
    .replace(SECRET_ASSIGNMENT, (m, key: string, value: string) => (value === '***' ? m : `${key}=***`));
}

/**
 * Variables whose value is a secret as a whole: never echoed, not even in part. TLS_KEY and
 * TLS_CERT are file paths, not keys, and are not matched.
 */
export const SECRET_VARIABLE = /SECRET|TOKEN|PASSWORD|PASSWD|PASSPHRASE|CREDENTIAL|API_KEY|PRIVATE_KEY/i;

/**
 * How a configuration error may show a variable's value: a secret as its length only, a URL
 * with its credentials hidden, anything else as given (so that the fix is obvious).
 */
export function describeSettingValue(variable: string, value: string): string {
  if (SECRET_VARIABLE.test(variable)) return `(value hidden, ${value.length} characters)`;
  if (/_URLS?$/i.test(variable)) return `(got "${redact(value)}")`;
  // Not a secret by name, but a value that looks like a URL with credentials still is.
  return `(got "${redactText(value)}")`;
}
