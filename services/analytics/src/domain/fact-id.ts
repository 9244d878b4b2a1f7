import { createHash } from 'node:crypto';

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
  const hash = createHash('sha1').update(namespaceBytes(namespace)).update(name, 'utf8').digest();
  const b = hash.subarray(0, 16);
  b[6] = (b[6] & 0x0f) | 0x50; // version 5
  b[8] = (b[8] & 0x3f) | 0x80; // RFC variant
  const hex = b.toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

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
