import { callSettings } from './call-settings';
import type { Store } from './client';
import { NIL, chTime } from './rollup-source';

export interface ReplyTimingRows {
  sent: number;
  replied: number;
  p50: number;
  p90: number;
  cells: { weekday: number; hour: number; sent: number; replied: number }[];
}

/**
 * Per message (message_ref_id) of the tenant or one campaign: its first `sent` time and first
 * `replied` time (auto replies are another type), then by the send's ISO weekday and hour in
 * the zone, and overall with quantilesExact of the seconds to first reply. Read from the raw
 * events: the rollups do not keep which message an event belongs to. No FINAL: min() over
 * copies of a fact is the same with or without them. Events before the range start cannot
 * belong to a message sent in it, so they are not read (partition and minmax pruning).
 */
export async function queryReplyTiming(store: Store, q: { tenantId: string; campaignId?: string; start: Date; end: Date; timeZone: string }): Promise<ReplyTimingRows> {
  const params: Record<string, string | number> = { tenant: q.tenantId, start: chTime(q.start), end: chTime(q.end), tz: q.timeZone };
  const where = ['tenant_id = {tenant:UUID}', `message_ref_id != ${NIL}`, "event_type in ('sent', 'replied')", "occurred_at >= {start:DateTime64(3, 'UTC')}"];
  if (q.campaignId) {
    params.campaign = q.campaignId;
    where.splice(1, 0, 'campaign_id = {campaign:UUID}');
  }
  const rows = await (
    await store.client.query({
      query: `
        select toDayOfWeek(toTimeZone(sent_at, {tz:String})) as wd, toHour(toTimeZone(sent_at, {tz:String})) as hr, grouping(wd, hr) as is_total,
          count() as sent, countIf(has_reply) as replied,
          if(countIf(has_reply) = 0, [0., 0.], quantilesExactIf(0.5, 0.9)(reply_s, has_reply)) as q
        from (
          select message_ref_id,
            minIf(occurred_at, event_type = 'sent') as sent_at,
            countIf(event_type = 'replied') > 0 as has_reply,
            greatest(0, toUnixTimestamp64Milli(minIf(occurred_at, event_type = 'replied')) - toUnixTimestamp64Milli(minIf(occurred_at, event_type = 'sent'))) / 1000 as reply_s
          from ${store.table('events')}
          where ${where.join(' and ')}
          group by message_ref_id
          having countIf(event_type = 'sent') > 0 and sent_at < {end:DateTime64(3, 'UTC')}
        )
        group by grouping sets ((wd, hr), ())
        order by is_total desc, wd, hr`,
      query_params: params,
      format: 'JSONEachRow',
      ...callSettings(),
    })
  ).json<{ wd: number; hr: number; is_total: number | string; sent: number | string; replied: number | string; q: (number | null)[] }>();
  const total = rows.find((r) => Number(r.is_total) !== 0);
  const num = (v: number | null | undefined) => (typeof v === 'number' && Number.isFinite(v) ? v : 0);
  return {
    sent: Number(total?.sent ?? 0),
    replied: Number(total?.replied ?? 0),
    p50: num(total?.q?.[0]),
    p90: num(total?.q?.[1]),
    cells: rows
      .filter((r) => Number(r.is_total) === 0)
      .map((r) => ({ weekday: Number(r.wd), hour: Number(r.hr), sent: Number(r.sent), replied: Number(r.replied) })),
  };
}
