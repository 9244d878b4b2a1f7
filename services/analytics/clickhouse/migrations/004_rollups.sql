-- Issue 10: the seed's three analytics tables become rollups ClickHouse keeps itself.
--
-- For each of campaign, mailbox and sequence step: an hourly AggregatingMergeTree table
-- (<name>_hourly) filled on every insert into email_events by a materialized view
-- (<name>_hourly_mv), and the seed's name (<name>) re-created as a view that reads the rollup by
-- UTC day (same columns as the views of 002/003, so BI queries keep working).
--
-- De-duplication and rollups agree by construction: every count is uniqExactState of the
-- event's id (per bucket and type), not count(). A materialized view sees every inserted block,
-- duplicates included; a duplicate (a redelivery, a retried IngestEvents, the same fact from a
-- second path: same derived id, see 003) adds its id to a set that already holds it, so it adds
-- nothing. States merge exactly (uniqExactMerge unites the sets), across blocks, parts, hours
-- and days. hard_bounced is bounced - soft_bounced: a bounce is soft when any copy knew it was
-- soft (the unknown-type copy of a status change and the soft copy of the bounce message are
-- one bounce, soft), the same answer ReplacingMergeTree(detail_rank) gives on email_events.
--
-- Syntax: documented ClickHouse (AggregateFunction columns, -StateIf / -Merge combinators,
-- CREATE MATERIALIZED VIEW ... TO, INSERT ... SELECT), available in every ClickHouse since 21.x;
-- nothing here is chDB-only. Retention (TTL) is not in this file: it comes from the settings
-- ANALYTICS_RAW_TTL_DAYS / ANALYTICS_ROLLUP_TTL_DAYS and is applied at start by
-- src/db/apply-retention.ts (a migration's text is fixed by its checksum; a setting is not).
--
-- Idempotent statements only (no transactions in ClickHouse; see 001). The BACKFILL (the
-- `insert ... select` from email_events) runs after the materialized view exists, so no insert
-- falls between the two; events both captured by the view and read by the backfill, or a
-- backfill run twice, are the same ids in the same sets: counted once.

-- campaign_analytics: per tenant x campaign_id x UTC hour.
create table if not exists {{database}}.campaign_analytics_hourly
(
    tenant_id        UUID,
    campaign_id      UUID,
    -- start of the UTC hour of occurred_at
    hour             DateTime('UTC'),
    sent_state       AggregateFunction(uniqExact, UUID),
    delivered_state  AggregateFunction(uniqExact, UUID),
    opened_state     AggregateFunction(uniqExact, UUID),
    clicked_state    AggregateFunction(uniqExact, UUID),
    replied_state    AggregateFunction(uniqExact, UUID),
    bounced_state    AggregateFunction(uniqExact, UUID),
    soft_bounced_state AggregateFunction(uniqExact, UUID),
    unsubscribed_state AggregateFunction(uniqExact, UUID),
    complained_state AggregateFunction(uniqExact, UUID),
    auto_replied_state AggregateFunction(uniqExact, UUID),
    unique_opened_state AggregateFunction(uniqExact, UUID),
    unique_clicked_state AggregateFunction(uniqExact, UUID)
)
engine = AggregatingMergeTree
partition by toYYYYMM(hour)
order by (tenant_id, campaign_id, hour);
create materialized view if not exists {{database}}.campaign_analytics_hourly_mv to {{database}}.campaign_analytics_hourly as
select
    tenant_id,
    campaign_id,
    toStartOfHour(toDateTime(occurred_at, 'UTC')) as hour,
    uniqExactStateIf(event_id, event_type = 'sent')                                                      as sent_state,
    uniqExactStateIf(event_id, event_type = 'delivered')                                                 as delivered_state,
    uniqExactStateIf(event_id, event_type = 'opened')                                                    as opened_state,
    uniqExactStateIf(event_id, event_type = 'clicked')                                                   as clicked_state,
    uniqExactStateIf(event_id, event_type = 'replied')                                                   as replied_state,
    uniqExactStateIf(event_id, event_type = 'bounced')                                                   as bounced_state,
    uniqExactStateIf(event_id, event_type = 'bounced' and bounce_type = 'soft')                          as soft_bounced_state,
    uniqExactStateIf(event_id, event_type = 'unsubscribed')                                              as unsubscribed_state,
    uniqExactStateIf(event_id, event_type = 'complained')                                                as complained_state,
    uniqExactStateIf(event_id, event_type = 'auto_replied')                                              as auto_replied_state,
    uniqExactStateIf(message_ref_id, event_type = 'opened' and message_ref_id != toUUID('00000000-0000-0000-0000-000000000000')) as unique_opened_state,
    uniqExactStateIf(message_ref_id, event_type = 'clicked' and message_ref_id != toUUID('00000000-0000-0000-0000-000000000000')) as unique_clicked_state
from {{database}}.email_events
where campaign_id != toUUID('00000000-0000-0000-0000-000000000000')
group by tenant_id, campaign_id, hour;

-- BACKFILL from the raw events already stored (idempotent: see the header).
insert into {{database}}.campaign_analytics_hourly
select
    tenant_id,
    campaign_id,
    toStartOfHour(toDateTime(occurred_at, 'UTC')) as hour,
    uniqExactStateIf(event_id, event_type = 'sent')                                                      as sent_state,
    uniqExactStateIf(event_id, event_type = 'delivered')                                                 as delivered_state,
    uniqExactStateIf(event_id, event_type = 'opened')                                                    as opened_state,
    uniqExactStateIf(event_id, event_type = 'clicked')                                                   as clicked_state,
    uniqExactStateIf(event_id, event_type = 'replied')                                                   as replied_state,
    uniqExactStateIf(event_id, event_type = 'bounced')                                                   as bounced_state,
    uniqExactStateIf(event_id, event_type = 'bounced' and bounce_type = 'soft')                          as soft_bounced_state,
    uniqExactStateIf(event_id, event_type = 'unsubscribed')                                              as unsubscribed_state,
    uniqExactStateIf(event_id, event_type = 'complained')                                                as complained_state,
    uniqExactStateIf(event_id, event_type = 'auto_replied')                                              as auto_replied_state,
    uniqExactStateIf(message_ref_id, event_type = 'opened' and message_ref_id != toUUID('00000000-0000-0000-0000-000000000000')) as unique_opened_state,
    uniqExactStateIf(message_ref_id, event_type = 'clicked' and message_ref_id != toUUID('00000000-0000-0000-0000-000000000000')) as unique_clicked_state
from {{database}}.email_events
where campaign_id != toUUID('00000000-0000-0000-0000-000000000000')
group by tenant_id, campaign_id, hour;

-- mailbox_analytics: per tenant x email_account_id x UTC hour.
create table if not exists {{database}}.mailbox_analytics_hourly
(
    tenant_id        UUID,
    email_account_id UUID,
    -- start of the UTC hour of occurred_at
    hour             DateTime('UTC'),
    sent_state       AggregateFunction(uniqExact, UUID),
    delivered_state  AggregateFunction(uniqExact, UUID),
    opened_state     AggregateFunction(uniqExact, UUID),
    clicked_state    AggregateFunction(uniqExact, UUID),
    replied_state    AggregateFunction(uniqExact, UUID),
    bounced_state    AggregateFunction(uniqExact, UUID),
    soft_bounced_state AggregateFunction(uniqExact, UUID),
    unsubscribed_state AggregateFunction(uniqExact, UUID),
    complained_state AggregateFunction(uniqExact, UUID),
    auto_replied_state AggregateFunction(uniqExact, UUID),
    unique_opened_state AggregateFunction(uniqExact, UUID),
    unique_clicked_state AggregateFunction(uniqExact, UUID)
)
engine = AggregatingMergeTree
partition by toYYYYMM(hour)
order by (tenant_id, email_account_id, hour);
create materialized view if not exists {{database}}.mailbox_analytics_hourly_mv to {{database}}.mailbox_analytics_hourly as
select
    tenant_id,
    email_account_id,
    toStartOfHour(toDateTime(occurred_at, 'UTC')) as hour,
    uniqExactStateIf(event_id, event_type = 'sent')                                                      as sent_state,
    uniqExactStateIf(event_id, event_type = 'delivered')                                                 as delivered_state,
    uniqExactStateIf(event_id, event_type = 'opened')                                                    as opened_state,
    uniqExactStateIf(event_id, event_type = 'clicked')                                                   as clicked_state,
    uniqExactStateIf(event_id, event_type = 'replied')                                                   as replied_state,
    uniqExactStateIf(event_id, event_type = 'bounced')                                                   as bounced_state,
    uniqExactStateIf(event_id, event_type = 'bounced' and bounce_type = 'soft')                          as soft_bounced_state,
    uniqExactStateIf(event_id, event_type = 'unsubscribed')                                              as unsubscribed_state,
    uniqExactStateIf(event_id, event_type = 'complained')                                                as complained_state,
    uniqExactStateIf(event_id, event_type = 'auto_replied')                                              as auto_replied_state,
    uniqExactStateIf(message_ref_id, event_type = 'opened' and message_ref_id != toUUID('00000000-0000-0000-0000-000000000000')) as unique_opened_state,
    uniqExactStateIf(message_ref_id, event_type = 'clicked' and message_ref_id != toUUID('00000000-0000-0000-0000-000000000000')) as unique_clicked_state
from {{database}}.email_events
where email_account_id != toUUID('00000000-0000-0000-0000-000000000000')
group by tenant_id, email_account_id, hour;

-- BACKFILL from the raw events already stored (idempotent: see the header).
insert into {{database}}.mailbox_analytics_hourly
select
    tenant_id,
    email_account_id,
    toStartOfHour(toDateTime(occurred_at, 'UTC')) as hour,
    uniqExactStateIf(event_id, event_type = 'sent')                                                      as sent_state,
    uniqExactStateIf(event_id, event_type = 'delivered')                                                 as delivered_state,
    uniqExactStateIf(event_id, event_type = 'opened')                                                    as opened_state,
    uniqExactStateIf(event_id, event_type = 'clicked')                                                   as clicked_state,
    uniqExactStateIf(event_id, event_type = 'replied')                                                   as replied_state,
    uniqExactStateIf(event_id, event_type = 'bounced')                                                   as bounced_state,
    uniqExactStateIf(event_id, event_type = 'bounced' and bounce_type = 'soft')                          as soft_bounced_state,
    uniqExactStateIf(event_id, event_type = 'unsubscribed')                                              as unsubscribed_state,
    uniqExactStateIf(event_id, event_type = 'complained')                                                as complained_state,
    uniqExactStateIf(event_id, event_type = 'auto_replied')                                              as auto_replied_state,
    uniqExactStateIf(message_ref_id, event_type = 'opened' and message_ref_id != toUUID('00000000-0000-0000-0000-000000000000')) as unique_opened_state,
    uniqExactStateIf(message_ref_id, event_type = 'clicked' and message_ref_id != toUUID('00000000-0000-0000-0000-000000000000')) as unique_clicked_state
from {{database}}.email_events
where email_account_id != toUUID('00000000-0000-0000-0000-000000000000')
group by tenant_id, email_account_id, hour;

-- sequence_step_analytics: per tenant x campaign_id x sequence_step_id x UTC hour.
create table if not exists {{database}}.sequence_step_analytics_hourly
(
    tenant_id        UUID,
    campaign_id      UUID,
    sequence_step_id UUID,
    -- start of the UTC hour of occurred_at
    hour             DateTime('UTC'),
    sent_state       AggregateFunction(uniqExact, UUID),
    delivered_state  AggregateFunction(uniqExact, UUID),
    opened_state     AggregateFunction(uniqExact, UUID),
    clicked_state    AggregateFunction(uniqExact, UUID),
    replied_state    AggregateFunction(uniqExact, UUID),
    bounced_state    AggregateFunction(uniqExact, UUID),
    soft_bounced_state AggregateFunction(uniqExact, UUID),
    unsubscribed_state AggregateFunction(uniqExact, UUID),
    complained_state AggregateFunction(uniqExact, UUID),
    auto_replied_state AggregateFunction(uniqExact, UUID),
    unique_opened_state AggregateFunction(uniqExact, UUID),
    unique_clicked_state AggregateFunction(uniqExact, UUID),
    index sequence_step_idx sequence_step_id type bloom_filter(0.01) granularity 1
)
engine = AggregatingMergeTree
partition by toYYYYMM(hour)
order by (tenant_id, campaign_id, sequence_step_id, hour);
create materialized view if not exists {{database}}.sequence_step_analytics_hourly_mv to {{database}}.sequence_step_analytics_hourly as
select
    tenant_id,
    campaign_id,
    sequence_step_id,
    toStartOfHour(toDateTime(occurred_at, 'UTC')) as hour,
    uniqExactStateIf(event_id, event_type = 'sent')                                                      as sent_state,
    uniqExactStateIf(event_id, event_type = 'delivered')                                                 as delivered_state,
    uniqExactStateIf(event_id, event_type = 'opened')                                                    as opened_state,
    uniqExactStateIf(event_id, event_type = 'clicked')                                                   as clicked_state,
    uniqExactStateIf(event_id, event_type = 'replied')                                                   as replied_state,
    uniqExactStateIf(event_id, event_type = 'bounced')                                                   as bounced_state,
    uniqExactStateIf(event_id, event_type = 'bounced' and bounce_type = 'soft')                          as soft_bounced_state,
    uniqExactStateIf(event_id, event_type = 'unsubscribed')                                              as unsubscribed_state,
    uniqExactStateIf(event_id, event_type = 'complained')                                                as complained_state,
    uniqExactStateIf(event_id, event_type = 'auto_replied')                                              as auto_replied_state,
    uniqExactStateIf(message_ref_id, event_type = 'opened' and message_ref_id != toUUID('00000000-0000-0000-0000-000000000000')) as unique_opened_state,
    uniqExactStateIf(message_ref_id, event_type = 'clicked' and message_ref_id != toUUID('00000000-0000-0000-0000-000000000000')) as unique_clicked_state
from {{database}}.email_events
where sequence_step_id != toUUID('00000000-0000-0000-0000-000000000000')
group by tenant_id, campaign_id, sequence_step_id, hour;

-- BACKFILL from the raw events already stored (idempotent: see the header).
insert into {{database}}.sequence_step_analytics_hourly
select
    tenant_id,
    campaign_id,
    sequence_step_id,
    toStartOfHour(toDateTime(occurred_at, 'UTC')) as hour,
    uniqExactStateIf(event_id, event_type = 'sent')                                                      as sent_state,
    uniqExactStateIf(event_id, event_type = 'delivered')                                                 as delivered_state,
    uniqExactStateIf(event_id, event_type = 'opened')                                                    as opened_state,
    uniqExactStateIf(event_id, event_type = 'clicked')                                                   as clicked_state,
    uniqExactStateIf(event_id, event_type = 'replied')                                                   as replied_state,
    uniqExactStateIf(event_id, event_type = 'bounced')                                                   as bounced_state,
    uniqExactStateIf(event_id, event_type = 'bounced' and bounce_type = 'soft')                          as soft_bounced_state,
    uniqExactStateIf(event_id, event_type = 'unsubscribed')                                              as unsubscribed_state,
    uniqExactStateIf(event_id, event_type = 'complained')                                                as complained_state,
    uniqExactStateIf(event_id, event_type = 'auto_replied')                                              as auto_replied_state,
    uniqExactStateIf(message_ref_id, event_type = 'opened' and message_ref_id != toUUID('00000000-0000-0000-0000-000000000000')) as unique_opened_state,
    uniqExactStateIf(message_ref_id, event_type = 'clicked' and message_ref_id != toUUID('00000000-0000-0000-0000-000000000000')) as unique_clicked_state
from {{database}}.email_events
where sequence_step_id != toUUID('00000000-0000-0000-0000-000000000000')
group by tenant_id, campaign_id, sequence_step_id, hour;

-- The seed's names: the views of 002/003 replaced by views over the rollups (daily, UTC), with
-- the same columns in the same order.
drop view if exists {{database}}.campaign_analytics;
create view if not exists {{database}}.campaign_analytics as
select
    tenant_id,
    campaign_id,
    toDate(hour) as day,
    uniqExactMerge(sent_state) as sent,
    uniqExactMerge(delivered_state) as delivered,
    uniqExactMerge(opened_state) as opened,
    uniqExactMerge(clicked_state) as clicked,
    uniqExactMerge(replied_state) as replied,
    uniqExactMerge(bounced_state) as bounced,
    uniqExactMerge(unsubscribed_state) as unsubscribed,
    uniqExactMerge(complained_state) as complained,
    uniqExactMerge(unique_opened_state) as unique_opened,
    uniqExactMerge(unique_clicked_state) as unique_clicked,
    uniqExactMerge(bounced_state) - uniqExactMerge(soft_bounced_state) as hard_bounced,
    uniqExactMerge(soft_bounced_state) as soft_bounced,
    uniqExactMerge(auto_replied_state) as auto_replied
from {{database}}.campaign_analytics_hourly
group by tenant_id, campaign_id, day;
drop view if exists {{database}}.mailbox_analytics;
create view if not exists {{database}}.mailbox_analytics as
select
    tenant_id,
    email_account_id,
    toDate(hour) as day,
    uniqExactMerge(sent_state) as sent,
    uniqExactMerge(delivered_state) as delivered,
    uniqExactMerge(opened_state) as opened,
    uniqExactMerge(clicked_state) as clicked,
    uniqExactMerge(replied_state) as replied,
    uniqExactMerge(bounced_state) as bounced,
    uniqExactMerge(unsubscribed_state) as unsubscribed,
    uniqExactMerge(complained_state) as complained,
    uniqExactMerge(unique_opened_state) as unique_opened,
    uniqExactMerge(unique_clicked_state) as unique_clicked,
    uniqExactMerge(bounced_state) - uniqExactMerge(soft_bounced_state) as hard_bounced,
    uniqExactMerge(soft_bounced_state) as soft_bounced,
    uniqExactMerge(auto_replied_state) as auto_replied
from {{database}}.mailbox_analytics_hourly
group by tenant_id, email_account_id, day;
drop view if exists {{database}}.sequence_step_analytics;
create view if not exists {{database}}.sequence_step_analytics as
select
    tenant_id,
    campaign_id,
    sequence_step_id,
    toDate(hour) as day,
    uniqExactMerge(sent_state) as sent,
    uniqExactMerge(delivered_state) as delivered,
    uniqExactMerge(opened_state) as opened,
    uniqExactMerge(clicked_state) as clicked,
    uniqExactMerge(replied_state) as replied,
    uniqExactMerge(bounced_state) as bounced,
    uniqExactMerge(unsubscribed_state) as unsubscribed,
    uniqExactMerge(complained_state) as complained,
    uniqExactMerge(unique_opened_state) as unique_opened,
    uniqExactMerge(unique_clicked_state) as unique_clicked,
    uniqExactMerge(bounced_state) - uniqExactMerge(soft_bounced_state) as hard_bounced,
    uniqExactMerge(soft_bounced_state) as soft_bounced,
    uniqExactMerge(auto_replied_state) as auto_replied
from {{database}}.sequence_step_analytics_hourly
group by tenant_id, campaign_id, sequence_step_id, day;

-- 003 kept the table it replaced as its way back and said a later migration drops it: this one.
drop table if exists {{database}}.email_events_002;
