import { generateDataset, messageStrings } from './dataset';
import { makeBodies } from './bodies';

/** One message's content as a content-tier caller sends it (PutContent's fields). */
export interface ContentBody {
  text: string;
  html: string;
  /** The headers as a JSON object (PutContent's `google.protobuf.Struct`, a jsonb column). */
  headers: Record<string, unknown>;
  /** UTF-8 bytes of text + html + headers JSON: what the service computes as raw_size_bytes. */
  bytes: number;
}

/**
 * `n` distinct realistic bodies (lib/bodies.ts: 5-50 KB HTML, its text version, 1-3 KB of
 * headers), deterministic. makeBodies escapes for COPY's text format; this undoes it, so the
 * values are what a caller really sends (newlines in the text, single backslashes in the JSON).
 */
export function contentBodies(n: number): ContentBody[] {
  const ds = generateDataset({ rows: n });
  return Array.from({ length: n }, (_, i) => {
    const b = makeBodies(ds, i, messageStrings(ds, i));
    const text = b.text.replace(/\\n/g, '\n');
    const headersJson = b.headers.replace(/\\\\/g, '\\');
    const headers = JSON.parse(headersJson) as Record<string, unknown>;
    return { text, html: b.html, headers, bytes: Buffer.byteLength(text) + Buffer.byteLength(b.html) + Buffer.byteLength(headersJson) };
  });
}
