import type { Store } from '../db/client';
import { queryMailboxHealth, type MailboxWindowRow } from '../db/query-mailbox-health';
import { ZERO } from './metrics';

/**
 * The health rule (README "Mailbox health"), over the rolling 28 days before `asOf`:
 *   AT_RISK   bounced / sent > 2 %   with at least 20 sends  → reason "bounce_rate"
 *             complained / sent > 0.3 % with at least 20 sends → reason "complaint_rate"
 *             sent in the rolling 24 h > daily limit (when given) → reason "over_daily_limit"
 *   HEALTHY   none of these, with at least 20 sends
 *   INSUFFICIENT_DATA  fewer than 20 sends and not over the limit
 * 2 % and 0.3 % are the thresholds mailbox providers publish for bulk senders (0.3 % is
 * Gmail's spam-rate limit); 20 sends keeps one early bounce from flagging a new mailbox.
 */
export const HEALTH_RULE = { minSends: 20, maxBounceRate: 0.02, maxComplaintRate: 0.003 } as const;

export type HealthStatus = 'healthy' | 'at_risk' | 'insufficient_data';

export interface MailboxHealthFacts extends MailboxWindowRow {
  dailyLimit: number;
  status: HealthStatus;
  reasons: string[];
  bounceRate: number;
  complaintRate: number;
  replyRate: number;
  limitUsed: number;
}

export function judge(row: MailboxWindowRow, dailyLimit: number): MailboxHealthFacts {
  const sent = row.d28.sent;
  const rate = (n: number) => (sent > 0 ? n / sent : 0);
  const bounceRate = rate(row.d28.bounced);
  const complaintRate = rate(row.d28.complained);
  const reasons: string[] = [];
  if (sent >= HEALTH_RULE.minSends && bounceRate > HEALTH_RULE.maxBounceRate) reasons.push('bounce_rate');
  if (sent >= HEALTH_RULE.minSends && complaintRate > HEALTH_RULE.maxComplaintRate) reasons.push('complaint_rate');
  if (dailyLimit > 0 && row.sent24h > dailyLimit) reasons.push('over_daily_limit');
  const status: HealthStatus = reasons.length > 0 ? 'at_risk' : sent >= HEALTH_RULE.minSends ? 'healthy' : 'insufficient_data';
  return {
    ...row,
    dailyLimit,
    status,
    reasons,
    bounceRate,
    complaintRate,
    replyRate: rate(row.d28.replied),
    limitUsed: dailyLimit > 0 ? row.sent24h / dailyLimit : 0,
  };
}

export async function mailboxHealth(store: Store, q: { tenantId: string; mailboxId: string; dailyLimit: number; asOf: Date }): Promise<MailboxHealthFacts> {
  const [row] = await queryMailboxHealth(store, { tenantId: q.tenantId, mailboxId: q.mailboxId, asOf: q.asOf, max: 1 });
  return judge(row ?? { mailboxId: q.mailboxId, sent24h: 0, d28: ZERO }, q.dailyLimit);
}

/** Most mailboxes of one tenant read to rank them (a row limit; the ranking needs all of them). */
export const MAX_RANKED_MAILBOXES = 10_000;

const SEVERITY: Record<HealthStatus, number> = { at_risk: 0, healthy: 1, insufficient_data: 2 };

/** Every mailbox with events in the 28 days, worst first (see ListMailboxHealthResponse). */
export async function rankMailboxes(
  store: Store,
  q: { tenantId: string; limits: Map<string, number>; defaultLimit: number; asOf: Date; limit: number },
): Promise<{ mailboxes: MailboxHealthFacts[]; total: number }> {
  const rows = await queryMailboxHealth(store, { tenantId: q.tenantId, asOf: q.asOf, max: MAX_RANKED_MAILBOXES });
  const judged = rows.map((r) => judge(r, q.limits.get(r.mailboxId) ?? q.defaultLimit));
  judged.sort(
    (a, b) =>
      SEVERITY[a.status] - SEVERITY[b.status] ||
      b.bounceRate - a.bounceRate ||
      b.complaintRate - a.complaintRate ||
      b.limitUsed - a.limitUsed ||
      a.mailboxId.localeCompare(b.mailboxId),
  );
  return { mailboxes: judged.slice(0, q.limit), total: judged.length };
}
