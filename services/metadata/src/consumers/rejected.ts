import type { commonV1 } from '@penguinmails/contracts';

/** An event this consumer can never apply (malformed for it): dead-lettered with `message` as the reason. */
export class RejectedEvent extends Error {
  override name = 'RejectedEvent';
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
/** The content tier's storage keys (services/content/src/domain/storage-keys.ts). */
const KEY_CHARS = /^[\x21-\x7e]{1,500}$/;

/**
 * The event's ids and key, checked: a UUID event id and tenant, and a key of that tenant
 * (`<tenant_id>/…`, as the content tier makes every key). Anything else would fail the
 * batch's SQL again on every redelivery, or write another tenant's key.
 */
export function checkedKey(env: commonV1.EventEnvelope, storageKey: string): { eventId: string; tenantId: string; storageKey: string } {
  const eventId = env.eventId.toLowerCase();
  const tenantId = env.tenantId.toLowerCase();
  if (!UUID.test(eventId)) throw new RejectedEvent('event_id is not a UUID');
  if (!UUID.test(tenantId)) throw new RejectedEvent('tenant_id is not a UUID');
  if (!KEY_CHARS.test(storageKey) || !storageKey.startsWith(`${tenantId}/`) || storageKey.length === tenantId.length + 1) {
    throw new RejectedEvent(`storage_key is not a key of tenant ${tenantId}`);
  }
  return { eventId, tenantId, storageKey };
}
