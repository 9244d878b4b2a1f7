/**
 * The hold key of a campaign's sends (queue/v1 EnqueueJobRequest.hold_key): the queue tier
 * holds it while the campaign is not ACTIVE (it consumes metadata/v1 CampaignStatusChanged), so
 * producers that enqueue a campaign's sends with this key get them held while it is paused.
 * Part of the contract, not of one service: the queue tier and every producer must spell it alike.
 */
export const campaignHoldKey = (campaignId: string): string => `campaign:${campaignId.toLowerCase()}`;
