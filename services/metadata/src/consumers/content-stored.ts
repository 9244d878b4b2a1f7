import { contentV1, type commonV1 } from '@penguinmails/contracts';
import type { ContentKeyChange } from '../domain/content-keys';
import { checkedKey } from './rejected';

export const CONTENT_STORED = 'penguinmails.content.v1.ContentStored';

/** ContentStored: the key's object exists → `stored`. Throws RejectedEvent for a malformed one. */
export function contentStored(env: commonV1.EventEnvelope): ContentKeyChange {
  const p = contentV1.ContentStored.decode(env.payload);
  return { ...checkedKey(env, p.storageKey), state: 'stored', at: env.occurredAt ?? p.created ?? new Date() };
}
