import { callSettings } from './call-settings';
import type { Store } from './client';
import { at, mergedCounts, readCounts, rollupSource, type CountsRow } from './rollup-source';

export interface MailboxWindowRow {
  mailboxId: string;
  sent24h: number;
  d28: CountsRow;
}

const DAY = 86_400_000;

/**
 * The rolling windows of mailbox health in one query: the mailbox rollup over the last 28 days
 * (w = 0) UNION ALL over the last 24 hours (w = 1), each exact to the minute at its edges
 * (rollup-source.ts), merged per mailbox with -MergeIf. One mailbox when `mailboxId` is given,
 * else every mailbox of the tenant with events in the 28 days, at most `max` rows.
 */
export async function queryMailboxHealth(store: Store, q: { tenantId: string; mailboxId?: string; asOf: Date; max: number }): Promise<MailboxWindowRow[]> {
  const params: Record<string, string | number> = { max: q.max };
  const ids = q.mailboxId ? { email_account_id: q.mailboxId } : {};
  const w28 = rollupSource(store.table, { rollup: 'mailbox', tenantId: q.tenantId, ids, start: new Date(q.asOf.getTime() - 28 * DAY), end: q.asOf, tag: 0 }, params, 'a');
  const w24 = rollupSource(store.table, { rollup: 'mailbox', tenantId: q.tenantId, ids, start: new Date(q.asOf.getTime() - DAY), end: q.asOf, tag: 1 }, params, 'b');
  const rows = await (
    await store.client.query({
      query: `select toString(email_account_id) as mailbox, sumForEachMergeIf(counts, w = 1)[${at('sent')}] as sent_24h, ${mergedCounts('w = 0', 'd28_')}
              from (${w28} union all ${w24}) group by email_account_id order by mailbox limit {max:UInt32}`,
      query_params: params,
      format: 'JSONEachRow',
      ...callSettings(),
    })
  ).json<Record<string, string | number>>();
  return rows.map((r) => ({ mailboxId: String(r.mailbox), sent24h: Number(r.sent_24h), d28: readCounts(r, 'd28_') }));
}
