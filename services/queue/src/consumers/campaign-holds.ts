import { campaignHoldKey, metadataV1 } from '@penguinmails/contracts';
import {
  isUuid,
  tierEventConsumer,
  type BatchOutcome,
  type ConsumedEvent,
  type EventConsumer,
  type Logger,
  type TierConsumerOptions,
} from '@penguinmails/service-kit';
import type { Pool } from 'pg';
import { setHold } from '../domain/holds';

/** The durable consumer on the metadata stream (and the `<consumer>` of its dead letters). */
export const CAMPAIGN_HOLDS_CONSUMER = 'queue-campaign-holds';
const EVENT_TYPE = 'penguinmails.metadata.v1.CampaignStatusChanged';
const { CampaignStatus } = metadataV1;

/**
 * What a campaign's new `status` does to its sends: only an ACTIVE campaign sends ('release').
 * PAUSED holds the sends still waiting ('hold'), until ACTIVE releases them. COMPLETED and
 * ARCHIVED are final (no transition leads back to ACTIVE): their waiting sends are cancelled
 * ('cancel'), finished jobs that retention removes, instead of HELD for ever; a send enqueued
 * after that waits as HELD. DRAFT is never a new status (no transition leads to it), so it says
 * nothing (null); undefined for a value the tier does not know.
 */
function action(status: metadataV1.CampaignStatus): 'release' | 'hold' | 'cancel' | null | undefined {
  switch (status) {
    case CampaignStatus.CAMPAIGN_STATUS_ACTIVE:
      return 'release';
    case CampaignStatus.CAMPAIGN_STATUS_PAUSED:
      return 'hold';
    case CampaignStatus.CAMPAIGN_STATUS_COMPLETED:
    case CampaignStatus.CAMPAIGN_STATUS_ARCHIVED:
      return 'cancel';
    case CampaignStatus.CAMPAIGN_STATUS_DRAFT:
      return null;
    default:
      return undefined;
  }
}

/**
 * What the consumer reads: the metadata tier's stream (created with the kit's settings when
 * metadata has not started yet; an existing one is left as its owner configured it) and the
 * durable consumer filtered on campaign_status_changed (the kit's tierEventConsumer).
 */
const campaignHolds = tierEventConsumer({ tier: 'metadata', event: 'campaign_status_changed', durable: CAMPAIGN_HOLDS_CONSUMER });

/** Declares the stream and durable consumer. Idempotent: every replica calls it at every start. */
export const declareCampaignHoldsConsumer = campaignHolds.declare;

/**
 * The consumer of CampaignStatusChanged (not started: main runs it as background work): a
 * campaign that leaves ACTIVE holds the key `campaign:<campaign_id>` of its tenant, one that
 * becomes ACTIVE again releases it, one that is COMPLETED or ARCHIVED has its waiting sends
 * cancelled (domain/holds.ts). Each event is applied in its own
 * transaction, in stream order, tagged with its stream sequence: a redelivered older event
 * (after a crash between the apply and the ack, or a batch redelivered behind a newer one)
 * changes nothing, so the last status the metadata tier published wins.
 */
export function createCampaignHoldsConsumer(opts: TierConsumerOptions & { pool: Pool }): EventConsumer {
  return campaignHolds.create(opts, (events) => handleCampaignStatusChanged(opts.pool, opts.logger, events));
}

type Parsed = { tenantId: string; holdKey: string; held: boolean; cancel: boolean } | { skip: true } | { reason: string };

function parse(e: ConsumedEvent): Parsed {
  const env = e.envelope;
  if (env.eventType !== EVENT_TYPE) return { reason: `unexpected event type "${env.eventType.slice(0, 200)}" (expected ${EVENT_TYPE})` };
  if (!isUuid(env.tenantId)) return { reason: 'tenant_id is not a UUID' };
  let payload: metadataV1.CampaignStatusChanged;
  try {
    payload = metadataV1.CampaignStatusChanged.decode(env.payload);
  } catch (err) {
    return { reason: `undecodable CampaignStatusChanged payload: ${(err as Error).message}` };
  }
  if (!isUuid(payload.campaignId)) return { reason: 'campaign_id is not a UUID' };
  const act = action(payload.newStatus);
  if (act === undefined) return { reason: `new_status ${payload.newStatus} is not a campaign status this tier knows` };
  if (act === null) return { skip: true };
  return { tenantId: env.tenantId.toLowerCase(), holdKey: campaignHoldKey(payload.campaignId), held: act !== 'release', cancel: act === 'cancel' };
}

/** Applies a batch in stream order; malformed events are rejected (dead-lettered), the rest applied. */
export async function handleCampaignStatusChanged(pool: Pool, logger: Logger, events: ConsumedEvent[]): Promise<BatchOutcome> {
  const rejected: NonNullable<BatchOutcome['rejected']> = [];
  for (const event of [...events].sort((a, b) => a.msg.seq - b.msg.seq)) {
    const parsed = parse(event);
    if ('reason' in parsed) {
      rejected.push({ event, reason: parsed.reason });
      continue;
    }
    if ('skip' in parsed) continue;
    const change = await setHold(pool, { ...parsed, sourceSeq: event.msg.seq });
    logger.info(
      { tenantId: parsed.tenantId, holdKey: parsed.holdKey, held: parsed.held, jobs: change.jobs, applied: change.applied, seq: event.msg.seq },
      parsed.cancel ? 'campaign ended: waiting sends cancelled' : parsed.held ? 'campaign sends held' : 'campaign sends released',
    );
  }
  return { rejected };
}
