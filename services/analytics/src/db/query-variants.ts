import { callSettings } from './call-settings';
import type { Store } from './client';
import { NIL, chTime } from './rollup-source';

export interface VariantRow {
  stepId: string;
  variant: string;
  sent: number;
  opened: number;
  clicked: number;
  replied: number;
  bounced: number;
}

export const MAX_VARIANT_ROWS = 1000;

/**
 * Messages of one campaign per step and A/B variant, read from the raw events per message:
 * a message's variant is the one any of its events carries (the send path puts it on `sent`),
 * so opens, clicks and replies reported without it count for their message's variant. A
 * message counts when it has a `sent` event (in the range, by its first send time).
 */
export async function queryVariants(store: Store, q: { tenantId: string; campaignId: string; stepId?: string; start?: Date; end?: Date }): Promise<VariantRow[]> {
  const params: Record<string, string | number> = { tenant: q.tenantId, campaign: q.campaignId };
  const having = ["countIf(event_type = 'sent') > 0", `step != ${NIL}`];
  if (q.stepId) {
    params.step = q.stepId;
    having.push('step = {step:UUID}');
  }
  if (q.start) {
    params.start = chTime(q.start);
    having.push("sent_at >= {start:DateTime64(3, 'UTC')}");
  }
  if (q.end) {
    params.end = chTime(q.end);
    having.push("sent_at < {end:DateTime64(3, 'UTC')}");
  }
  const rows = await (
    await store.client.query({
      query: `
        select toString(step) as step_id, v as variant, count() as sent, countIf(o) as opened, countIf(c) as clicked, countIf(r) as replied, countIf(b) as bounced
        from (
          select message_ref_id,
            anyIf(sequence_step_id, sequence_step_id != ${NIL}) as step,
            anyIf(variant, variant != '') as v,
            minIf(occurred_at, event_type = 'sent') as sent_at,
            countIf(event_type = 'opened') > 0 as o,
            countIf(event_type = 'clicked') > 0 as c,
            countIf(event_type = 'replied') > 0 as r,
            countIf(event_type = 'bounced') > 0 as b
          from ${store.table('events')}
          where tenant_id = {tenant:UUID} and campaign_id = {campaign:UUID} and message_ref_id != ${NIL}
          group by message_ref_id
          having ${having.join(' and ')}
        )
        group by step, v
        order by step_id, variant
        limit ${MAX_VARIANT_ROWS}`,
      query_params: params,
      format: 'JSONEachRow',
      ...callSettings(),
    })
  ).json<Record<string, string | number>>();
  return rows.map((r) => ({
    stepId: String(r.step_id),
    variant: String(r.variant),
    sent: Number(r.sent),
    opened: Number(r.opened),
    clicked: Number(r.clicked),
    replied: Number(r.replied),
    bounced: Number(r.bounced),
  }));
}
