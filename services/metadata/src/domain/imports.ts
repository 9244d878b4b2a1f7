import { AlreadyExistsError, outboxInsertMany, withTransaction, type EventNames } from '@penguinmails/service-kit';
import type { Pool } from 'pg';
import { insertMessages } from '../db/insert-messages';
import { lockContentKeys } from '../db/lock-content-keys';
import type { MessageRow } from '../db/rows';
import { selectMessageIds } from '../db/select-message-ids';
import { selectMessagesByKeys } from '../db/select-messages-by-keys';
import { updateImportedMessages } from '../db/update-imported-messages';
import { EVENTS, messageRefOf, outboxRow } from './events';
import { applyInboundEffects, checkReferences, type MessageInsert } from './messages';

/** Statuses an imported ref may have: its history already happened, so any state of its direction. */
export const IMPORT_STATUSES: Record<string, readonly string[]> = {
  inbound: ['received'],
  outbound: ['queued', 'sent', 'delivered', 'opened', 'clicked', 'replied', 'bounced', 'failed'],
};

/** A validated ImportedMessage: a MessageInsert (client_key set) and the original times. */
export interface ImportInsert extends MessageInsert {
  clientKey: string;
  created: Date;
  processed: Date | null;
  /** The ref's id kept from the source system (checked free first); else generated. */
  id?: string;
}

/** `messages[i].id`: an ImportInsert's field is its MessageInput's (`messages[i].message`). */
const idField = (i: ImportInsert) => `${i.field.replace(/\.message$/, '')}.id`;

/**
 * ImportMessages: one transaction, all or nothing. A known client_key is a catch-up: the ref's
 * status, subject, processed and content key become the given ones (no event: the history
 * facts were reported when it was imported; analytics gets later states from the importer).
 * A new one is inserted at its original `created` with MessageRecorded (whose ref carries that
 * `created`, the time analytics counts it at), and the inbound effects on leads and mailboxes;
 * the parent's status is not moved (the import gives the parent's own status).
 */
export async function importMessages(pool: Pool, names: EventNames, tenantId: string, inputs: ImportInsert[]): Promise<{ row: MessageRow; created: boolean }[]> {
  return withTransaction(pool, async (c) => {
    await checkReferences(c, tenantId, inputs);
    await lockContentKeys(c, inputs.map((i) => i.contentStorageKey).filter((k): k is string => !!k));
    const providerIds = inputs.map((i) => i.providerMessageId).filter((k): k is string => !!k);
    const known = await selectMessagesByKeys(c, tenantId, providerIds, inputs.map((i) => i.clientKey));
    const byClient = new Map(known.filter((r) => r.clientKey).map((r) => [r.clientKey!, r]));
    const byProvider = new Map(known.filter((r) => r.providerMessageId).map((r) => [r.providerMessageId!, r]));
    for (const i of inputs) {
      const holder = i.providerMessageId ? byProvider.get(i.providerMessageId) : undefined;
      if (holder && holder.clientKey !== i.clientKey) {
        throw new AlreadyExistsError('message', holder.id, `${i.field}.provider_message_id is already the Message-ID of message ${holder.id} (client_key ${JSON.stringify(holder.clientKey ?? '')}); an imported message needs its own`);
      }
    }
    const fresh = inputs.filter((i) => !byClient.has(i.clientKey));
    // Kept ids (the source system's): each must be free, or already this client_key's ref.
    const holders = await selectMessageIds(c, fresh.map((i) => i.id).filter((id): id is string => !!id));
    const heldBy = new Map(holders.map((r) => [r.id, r]));
    for (const i of fresh) {
      const holder = i.id ? heldBy.get(i.id) : undefined;
      if (holder && (holder.tenantId !== tenantId || holder.clientKey !== i.clientKey)) {
        throw new AlreadyExistsError('message', i.id!, `${idField(i)} ${i.id} is already the id of another message; import it with another id, or none (the tier then generates one)`);
      }
    }
    const inserted = fresh.length ? await insertMessages(c, tenantId, fresh) : [];
    // A concurrent import of the same keys committed first: its rows are the ones to return.
    const again = inserted.length < fresh.length ? await selectMessagesByKeys(c, tenantId, [], fresh.map((i) => i.clientKey)) : [];
    for (const r of [...inserted, ...again]) byClient.set(r.clientKey!, r);
    // Skipped by the insert and found by no client_key: a concurrent call took its kept id or its
    // provider_message_id after the checks above.
    const lost = fresh.find((i) => !byClient.has(i.clientKey));
    if (lost) {
      throw new AlreadyExistsError('message', lost.id ?? lost.clientKey, lost.id
        ? `${idField(lost)} ${lost.id} or its provider_message_id was taken by another message while this call ran; retry, or import it with another id`
        : `${lost.field}.provider_message_id was taken by another message while this call ran; retry to be told which`);
    }
    const created = new Set(inserted.map((r) => r.id));
    const updates = inputs
      .filter((i) => !created.has(byClient.get(i.clientKey)!.id))
      .map((i) => ({ id: byClient.get(i.clientKey)!.id, status: i.status, subject: i.subject, processed: i.processed, contentStorageKey: i.contentStorageKey, contentState: i.contentState }));
    for (const r of await updateImportedMessages(c, tenantId, updates)) byClient.set(r.clientKey!, r);
    if (inserted.length) {
      const q = outboxInsertMany(inserted.map((r) => outboxRow(names, EVENTS.messageRecorded, tenantId, { message: messageRefOf(r) })));
      await c.query(q.text, q.values);
      await applyInboundEffects(c, names, tenantId, inserted, false);
    }
    const seen = new Set<string>();
    return inputs.map((i) => {
      const row = byClient.get(i.clientKey)!;
      const isNew = created.has(row.id) && !seen.has(row.id);
      seen.add(row.id);
      return { row, created: isNew };
    });
  });
}
