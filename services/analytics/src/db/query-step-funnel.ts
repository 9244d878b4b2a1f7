import { callSettings } from './call-settings';
import type { Store } from './client';
import { mergedCounts, readCounts, rollupSource, type CountsRow } from './rollup-source';

export interface StepRow extends CountsRow {
  stepId: string;
  /** epoch seconds of the step's first hour with events */
  firstHour: number;
}

/** At most this many steps are read (a sequence has a handful; the rest is a row limit). */
export const MAX_FUNNEL_STEPS = 100;

/** Per step of one campaign, from the step rollup (its key starts with tenant, campaign). */
export async function queryStepFunnel(store: Store, q: { tenantId: string; campaignId: string; start?: Date; end?: Date }): Promise<StepRow[]> {
  const params: Record<string, string | number> = {};
  const source = rollupSource(store.table, { rollup: 'step', tenantId: q.tenantId, ids: { campaign_id: q.campaignId }, start: q.start, end: q.end }, params, 's');
  const rows = await (
    await store.client.query({
      query: `select toString(sequence_step_id) as step, toUnixTimestamp(min(hour)) as first_hour, ${mergedCounts()}
              from (${source}) group by sequence_step_id order by first_hour, step limit ${MAX_FUNNEL_STEPS}`,
      query_params: params,
      format: 'JSONEachRow',
      ...callSettings(),
    })
  ).json<Record<string, string | number>>();
  return rows.map((r) => ({ stepId: String(r.step), firstHour: Number(r.first_hour), ...readCounts(r) }));
}
