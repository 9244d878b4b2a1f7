import { hash } from 'node:crypto';

/**
 * The event types that are facts of one message: at most one each per message ref, whichever
 * path reports them (the metadata tier's MessageRecorded, its MessageStatusChanged, a caller's
 * IngestEvents). Opens, clicks, unsubscribes and complaints are not: a message is opened many
 * times, and each open is its own event.
 */
export const FACT_TYPES: ReadonlySet<string> = new Set(['sent', 'delivered', 'replied', 'bounced', 'auto_replied']);

/** Namespace of the derived event ids (a random v4 UUID chosen once for this purpose; never change it). */
const NAMESPACE = 'b8a7f3f4-5f0c-4e5e-9a51-7d3c2e8f6a10';

/**
 * The event id of a fact: the name-based UUID (RFC 9562 v5, SHA-1) of `<message_ref_id>/<type>`
 * in this tier's namespace. Every path that reports "message X bounced" computes the same id,
 * so ReplacingMergeTree keeps one row for it.
 *
 * Written here rather than taken from the `uuid` package: v5 is one SHA-1 over namespace bytes
 * and name plus two bit fixes, and node:crypto has SHA-1; a dependency for ten lines is not
 * worth it. Checked against RFC 9562's test vector in test/consumer.test.ts.
 */
export function nameBasedUuid(namespace: string, name: string): string {
  const ns = namespaceBytes(namespace);
  const input = Buffer.allocUnsafe(16 + Buffer.byteLength(name, 'utf8'));
  ns.copy(input, 0);
  input.write(name, 16, 'utf8');
  // crypto.hash: one call, no Hash object (0.6 µs here against 3.2 µs for createHash().update()
  // .update().digest(); this runs for most stored events).
  const hex = hash('sha1', input, 'hex');
  // version 5 in byte 6's high nibble; the RFC variant (10xx) in byte 8's high two bits
  const variant = VARIANT[parseInt(hex[16], 16) & 3];
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-5${hex.slice(13, 16)}-${variant}${hex.slice(17, 20)}-${hex.slice(20, 32)}`;
}

const VARIANT = ['8', '9', 'a', 'b'];

const namespaces = new Map<string, Buffer>();
/** A namespace's 16 bytes, parsed once (this runs for most stored events). */
function namespaceBytes(namespace: string): Buffer {
  let b = namespaces.get(namespace);
  if (!b) namespaces.set(namespace, (b = Buffer.from(namespace.replace(/-/g, ''), 'hex')));
  return b;
}

export function factEventId(messageRefId: string, type: string): string {
  return nameBasedUuid(NAMESPACE, `${messageRefId.toLowerCase()}/${type}`);
}
