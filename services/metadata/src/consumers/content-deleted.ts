import { contentV1, type commonV1 } from '@penguinmails/contracts';
import type { ContentKeyChange } from '../domain/content-keys';
import { RejectedEvent, checkedKey } from './rejected';

export const CONTENT_DELETED = 'penguinmails.content.v1.ContentDeleted';

/**
 * ContentDeleted: retention after `expires` (EXPIRED) or by the tenant's retention policy
 * (POLICY_AGE, OVER_BUDGET) → `expired`; DeleteContent (REQUESTED) and orphan collection
 * (ORPHANED) → `deleted`. An unknown reason is rejected (dead-lettered) rather than
 * guessed. Throws RejectedEvent for a malformed event.
 */
export function contentDeleted(env: commonV1.EventEnvelope): ContentKeyChange {
  const p = contentV1.ContentDeleted.decode(env.payload);
  const R = contentV1.DeletionReason;
  let state: string;
  if (p.reason === R.DELETION_REASON_EXPIRED || p.reason === R.DELETION_REASON_POLICY_AGE || p.reason === R.DELETION_REASON_OVER_BUDGET) state = 'expired';
  else if (p.reason === R.DELETION_REASON_REQUESTED || p.reason === R.DELETION_REASON_ORPHANED) state = 'deleted';
  else throw new RejectedEvent(`ContentDeleted with an unknown reason (${p.reason})`);
  return { ...checkedKey(env, p.storageKey), state, at: env.occurredAt ?? p.deleted ?? new Date() };
}
