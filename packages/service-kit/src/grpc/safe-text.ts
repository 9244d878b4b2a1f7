/**
 * Text that is safe to put on the wire as a status message or an error detail.
 *
 * Why this exists: grpc-js writes `encodeURI(status.details)` into the `grpc-message` trailer
 * outside any handler. A message holding a lone surrogate (an emoji cut in half by a naive
 * `slice`) makes `encodeURI` throw a URIError that ends the process; a message of 70,000
 * characters (an echoed field) makes the trailers exceed the peer's HTTP/2 header limit and the
 * call never completes. Every status message and every description in an error detail goes
 * through {@link safeText}, so no caller input can do either.
 */

/** The most characters of a status message (the `grpc-message` trailer and google.rpc.Status.message). */
export const MAX_STATUS_MESSAGE = 1_000;
/** The most characters of one description in an error detail (a field violation, a resource). */
export const MAX_DETAIL_TEXT = 300;
/** The most field violations sent in one status; the rest are summarised in one more. */
export const MAX_FIELD_VIOLATIONS = 20;

/**
 * Well-formed (lone surrogates become U+FFFD) and at most `max` UTF-16 units long, cut on a
 * code-point boundary with an ellipsis when cut.
 */
export function safeText(text: string, max: number): string {
  const s = String(text ?? '').toWellFormed();
  if (s.length <= max) return s;
  let end = Math.max(0, max - 1);
  // Never end between the two halves of a surrogate pair.
  const code = s.charCodeAt(end - 1);
  if (code >= 0xd800 && code <= 0xdbff) end -= 1;
  return s.slice(0, end) + '…';
}

/**
 * A caller's value quoted for an error message: JSON-escaped (so NUL, control characters and
 * quotes are visible and harmless) and clipped to `max` characters of the original.
 */
export function quoteValue(value: string, max = 60): string {
  const s = String(value).toWellFormed();
  const clipped = s.length > max ? safeText(s, max) : s;
  return JSON.stringify(clipped);
}
