-- Issue 10, second pass: rollups of plain counts, de-duplicated BEFORE the insert.
--
-- Measured (bench/src/analytics-olap.ts and services/analytics/README.md "Figures"): merging the
-- twelve uniqExact states of 004 cost 150-300 ms per campaign question at 1M events (each hour's
-- state is a hash set that is deserialized and united at read time), the three state-building
-- materialized views tripled the cost of an insert, and summing 720 hourly rows of plain counts
-- takes ~5-8 ms. So the counts become sums, and exactness moves to the write path:
--
--   * email_events gets `counted` (UInt8, default 1). The writer (src/domain/events.ts) looks up
--     which of a batch's keys (tenant_id, campaign_id, event_id) are already stored and inserts
--     a new event with counted = 1, a copy that outranks the stored one (detail_rank) with
--     counted = 0 (the raw table's winner changes, no count does), the first copy that knows a
--     bounce is soft with counted = 2 (soft_bounced + 1, nothing else), and drops every other
--     copy. So each fact is counted = 1 exactly once, and the materialized views count rows:
--     countIf(counted = 1 and event_type = ...). Within one process the writer is serial (one
--     lookup + insert at a time), which closes the race of two concurrent inserts of one fact;
--     see the README for several writers on one server.
--   * unique opens / clicks stay uniqExact states of message_ref_id (a distinct count over a
--     range is not a sum of per-hour distinct counts); two states instead of twelve.
--
-- Columns end in _n (counts) and _state (sets), so a query's aliases (sent, opened, ...) never
-- equal a source column on either ClickHouse analyzer.
--
-- Run with no writer of the previous version up (the service migrates before it listens). The
-- backfill reads the 004 rollups, not the raw events: they are exact and also cover months whose
-- raw events expired (ANALYTICS_RAW_TTL_DAYS < ANALYTICS_ROLLUP_TTL_DAYS). It copies only months
-- the new table does not have yet, so a rerun after a crash finishes the missing months and adds
-- nothing twice. The 004 tables are kept (no longer fed: their views are dropped) as the way
-- back; a later migration drops them.
--
-- Syntax: SimpleAggregateFunction / AggregateFunction columns, -MergeState, CREATE MATERIALIZED
-- VIEW ... TO: documented ClickHouse, present in 21.x and later. Idempotent statements (see 001).

alter table {{database}}.email_events add column if not exists counted UInt8 default 1 after detail_rank;

-- campaign: per tenant x campaign_id x UTC hour.
create table if not exists {{database}}.campaign_counts_hourly
(
    tenant_id UUID,
    campaign_id UUID,
    hour DateTime('UTC'),
    sent_n SimpleAggregateFunction(sum, UInt64),
    delivered_n SimpleAggregateFunction(sum, UInt64),
    opened_n SimpleAggregateFunction(sum, UInt64),
    clicked_n SimpleAggregateFunction(sum, UInt64),
    replied_n SimpleAggregateFunction(sum, UInt64),
    bounced_n SimpleAggregateFunction(sum, UInt64),
    soft_bounced_n SimpleAggregateFunction(sum, UInt64),
    unsubscribed_n SimpleAggregateFunction(sum, UInt64),
    complained_n SimpleAggregateFunction(sum, UInt64),
    auto_replied_n SimpleAggregateFunction(sum, UInt64),
    unique_opened_state AggregateFunction(uniqExact, UUID),
    unique_clicked_state AggregateFunction(uniqExact, UUID)
)
engine = AggregatingMergeTree
partition by toYYYYMM(hour)
order by (tenant_id, campaign_id, hour);

-- BACKFILL from the 004 rollup, months not copied yet.
insert into {{database}}.campaign_counts_hourly
select tenant_id, campaign_id, hour,
uniqExactMerge(sent_state), uniqExactMerge(delivered_state), uniqExactMerge(opened_state), uniqExactMerge(clicked_state), uniqExactMerge(replied_state), uniqExactMerge(bounced_state), uniqExactMerge(soft_bounced_state), uniqExactMerge(unsubscribed_state), uniqExactMerge(complained_state), uniqExactMerge(auto_replied_state),
    uniqExactMergeState(unique_opened_state), uniqExactMergeState(unique_clicked_state)
from {{database}}.campaign_analytics_hourly
where toYYYYMM(hour) not in (select distinct toYYYYMM(hour) from {{database}}.campaign_counts_hourly)
group by tenant_id, campaign_id, hour;

create materialized view if not exists {{database}}.campaign_counts_hourly_mv to {{database}}.campaign_counts_hourly as
select tenant_id, campaign_id, toStartOfHour(toDateTime(occurred_at, 'UTC')) as hour,
    countIf(counted = 1 and event_type = 'sent') as sent_n,
    countIf(counted = 1 and event_type = 'delivered') as delivered_n,
    countIf(counted = 1 and event_type = 'opened') as opened_n,
    countIf(counted = 1 and event_type = 'clicked') as clicked_n,
    countIf(counted = 1 and event_type = 'replied') as replied_n,
    countIf(counted = 1 and event_type = 'bounced') as bounced_n,
    countIf(counted != 0 and event_type = 'bounced' and bounce_type = 'soft') as soft_bounced_n,
    countIf(counted = 1 and event_type = 'unsubscribed') as unsubscribed_n,
    countIf(counted = 1 and event_type = 'complained') as complained_n,
    countIf(counted = 1 and event_type = 'auto_replied') as auto_replied_n,
    uniqExactStateIf(message_ref_id, event_type = 'opened' and message_ref_id != toUUID('00000000-0000-0000-0000-000000000000')) as unique_opened_state,
    uniqExactStateIf(message_ref_id, event_type = 'clicked' and message_ref_id != toUUID('00000000-0000-0000-0000-000000000000')) as unique_clicked_state
from {{database}}.email_events
where campaign_id != toUUID('00000000-0000-0000-0000-000000000000')
group by tenant_id, campaign_id, hour;

drop view if exists {{database}}.campaign_analytics_hourly_mv;

-- mailbox: per tenant x email_account_id x UTC hour.
create table if not exists {{database}}.mailbox_counts_hourly
(
    tenant_id UUID,
    email_account_id UUID,
    hour DateTime('UTC'),
    sent_n SimpleAggregateFunction(sum, UInt64),
    delivered_n SimpleAggregateFunction(sum, UInt64),
    opened_n SimpleAggregateFunction(sum, UInt64),
    clicked_n SimpleAggregateFunction(sum, UInt64),
    replied_n SimpleAggregateFunction(sum, UInt64),
    bounced_n SimpleAggregateFunction(sum, UInt64),
    soft_bounced_n SimpleAggregateFunction(sum, UInt64),
    unsubscribed_n SimpleAggregateFunction(sum, UInt64),
    complained_n SimpleAggregateFunction(sum, UInt64),
    auto_replied_n SimpleAggregateFunction(sum, UInt64),
    unique_opened_state AggregateFunction(uniqExact, UUID),
    unique_clicked_state AggregateFunction(uniqExact, UUID)
)
engine = AggregatingMergeTree
partition by toYYYYMM(hour)
order by (tenant_id, email_account_id, hour);

-- BACKFILL from the 004 rollup, months not copied yet.
insert into {{database}}.mailbox_counts_hourly
select tenant_id, email_account_id, hour,
uniqExactMerge(sent_state), uniqExactMerge(delivered_state), uniqExactMerge(opened_state), uniqExactMerge(clicked_state), uniqExactMerge(replied_state), uniqExactMerge(bounced_state), uniqExactMerge(soft_bounced_state), uniqExactMerge(unsubscribed_state), uniqExactMerge(complained_state), uniqExactMerge(auto_replied_state),
    uniqExactMergeState(unique_opened_state), uniqExactMergeState(unique_clicked_state)
from {{database}}.mailbox_analytics_hourly
where toYYYYMM(hour) not in (select distinct toYYYYMM(hour) from {{database}}.mailbox_counts_hourly)
group by tenant_id, email_account_id, hour;

create materialized view if not exists {{database}}.mailbox_counts_hourly_mv to {{database}}.mailbox_counts_hourly as
select tenant_id, email_account_id, toStartOfHour(toDateTime(occurred_at, 'UTC')) as hour,
    countIf(counted = 1 and event_type = 'sent') as sent_n,
    countIf(counted = 1 and event_type = 'delivered') as delivered_n,
    countIf(counted = 1 and event_type = 'opened') as opened_n,
    countIf(counted = 1 and event_type = 'clicked') as clicked_n,
    countIf(counted = 1 and event_type = 'replied') as replied_n,
    countIf(counted = 1 and event_type = 'bounced') as bounced_n,
    countIf(counted != 0 and event_type = 'bounced' and bounce_type = 'soft') as soft_bounced_n,
    countIf(counted = 1 and event_type = 'unsubscribed') as unsubscribed_n,
    countIf(counted = 1 and event_type = 'complained') as complained_n,
    countIf(counted = 1 and event_type = 'auto_replied') as auto_replied_n,
    uniqExactStateIf(message_ref_id, event_type = 'opened' and message_ref_id != toUUID('00000000-0000-0000-0000-000000000000')) as unique_opened_state,
    uniqExactStateIf(message_ref_id, event_type = 'clicked' and message_ref_id != toUUID('00000000-0000-0000-0000-000000000000')) as unique_clicked_state
from {{database}}.email_events
where email_account_id != toUUID('00000000-0000-0000-0000-000000000000')
group by tenant_id, email_account_id, hour;

drop view if exists {{database}}.mailbox_analytics_hourly_mv;

-- sequence_step: per tenant x campaign_id x sequence_step_id x UTC hour.
create table if not exists {{database}}.sequence_step_counts_hourly
(
    tenant_id UUID,
    campaign_id UUID,
    sequence_step_id UUID,
    hour DateTime('UTC'),
    sent_n SimpleAggregateFunction(sum, UInt64),
    delivered_n SimpleAggregateFunction(sum, UInt64),
    opened_n SimpleAggregateFunction(sum, UInt64),
    clicked_n SimpleAggregateFunction(sum, UInt64),
    replied_n SimpleAggregateFunction(sum, UInt64),
    bounced_n SimpleAggregateFunction(sum, UInt64),
    soft_bounced_n SimpleAggregateFunction(sum, UInt64),
    unsubscribed_n SimpleAggregateFunction(sum, UInt64),
    complained_n SimpleAggregateFunction(sum, UInt64),
    auto_replied_n SimpleAggregateFunction(sum, UInt64),
    unique_opened_state AggregateFunction(uniqExact, UUID),
    unique_clicked_state AggregateFunction(uniqExact, UUID),
    index sequence_step_idx sequence_step_id type bloom_filter(0.01) granularity 1
)
engine = AggregatingMergeTree
partition by toYYYYMM(hour)
order by (tenant_id, campaign_id, sequence_step_id, hour);

-- BACKFILL from the 004 rollup, months not copied yet.
insert into {{database}}.sequence_step_counts_hourly
select tenant_id, campaign_id, sequence_step_id, hour,
uniqExactMerge(sent_state), uniqExactMerge(delivered_state), uniqExactMerge(opened_state), uniqExactMerge(clicked_state), uniqExactMerge(replied_state), uniqExactMerge(bounced_state), uniqExactMerge(soft_bounced_state), uniqExactMerge(unsubscribed_state), uniqExactMerge(complained_state), uniqExactMerge(auto_replied_state),
    uniqExactMergeState(unique_opened_state), uniqExactMergeState(unique_clicked_state)
from {{database}}.sequence_step_analytics_hourly
where toYYYYMM(hour) not in (select distinct toYYYYMM(hour) from {{database}}.sequence_step_counts_hourly)
group by tenant_id, campaign_id, sequence_step_id, hour;

create materialized view if not exists {{database}}.sequence_step_counts_hourly_mv to {{database}}.sequence_step_counts_hourly as
select tenant_id, campaign_id, sequence_step_id, toStartOfHour(toDateTime(occurred_at, 'UTC')) as hour,
    countIf(counted = 1 and event_type = 'sent') as sent_n,
    countIf(counted = 1 and event_type = 'delivered') as delivered_n,
    countIf(counted = 1 and event_type = 'opened') as opened_n,
    countIf(counted = 1 and event_type = 'clicked') as clicked_n,
    countIf(counted = 1 and event_type = 'replied') as replied_n,
    countIf(counted = 1 and event_type = 'bounced') as bounced_n,
    countIf(counted != 0 and event_type = 'bounced' and bounce_type = 'soft') as soft_bounced_n,
    countIf(counted = 1 and event_type = 'unsubscribed') as unsubscribed_n,
    countIf(counted = 1 and event_type = 'complained') as complained_n,
    countIf(counted = 1 and event_type = 'auto_replied') as auto_replied_n,
    uniqExactStateIf(message_ref_id, event_type = 'opened' and message_ref_id != toUUID('00000000-0000-0000-0000-000000000000')) as unique_opened_state,
    uniqExactStateIf(message_ref_id, event_type = 'clicked' and message_ref_id != toUUID('00000000-0000-0000-0000-000000000000')) as unique_clicked_state
from {{database}}.email_events
where sequence_step_id != toUUID('00000000-0000-0000-0000-000000000000')
group by tenant_id, campaign_id, sequence_step_id, hour;

drop view if exists {{database}}.sequence_step_analytics_hourly_mv;

drop view if exists {{database}}.campaign_analytics;
create view if not exists {{database}}.campaign_analytics as
select
    tenant_id, campaign_id,
    toDate(hour) as day,
    sum(sent_n) as sent,
    sum(delivered_n) as delivered,
    sum(opened_n) as opened,
    sum(clicked_n) as clicked,
    sum(replied_n) as replied,
    sum(bounced_n) as bounced,
    sum(unsubscribed_n) as unsubscribed,
    sum(complained_n) as complained,
    uniqExactMerge(unique_opened_state) as unique_opened,
    uniqExactMerge(unique_clicked_state) as unique_clicked,
    sum(bounced_n) - sum(soft_bounced_n) as hard_bounced,
    sum(soft_bounced_n) as soft_bounced,
    sum(auto_replied_n) as auto_replied
from {{database}}.campaign_counts_hourly
group by tenant_id, campaign_id, day;

drop view if exists {{database}}.mailbox_analytics;
create view if not exists {{database}}.mailbox_analytics as
select
    tenant_id, email_account_id,
    toDate(hour) as day,
    sum(sent_n) as sent,
    sum(delivered_n) as delivered,
    sum(opened_n) as opened,
    sum(clicked_n) as clicked,
    sum(replied_n) as replied,
    sum(bounced_n) as bounced,
    sum(unsubscribed_n) as unsubscribed,
    sum(complained_n) as complained,
    uniqExactMerge(unique_opened_state) as unique_opened,
    uniqExactMerge(unique_clicked_state) as unique_clicked,
    sum(bounced_n) - sum(soft_bounced_n) as hard_bounced,
    sum(soft_bounced_n) as soft_bounced,
    sum(auto_replied_n) as auto_replied
from {{database}}.mailbox_counts_hourly
group by tenant_id, email_account_id, day;

drop view if exists {{database}}.sequence_step_analytics;
create view if not exists {{database}}.sequence_step_analytics as
select
    tenant_id, campaign_id, sequence_step_id,
    toDate(hour) as day,
    sum(sent_n) as sent,
    sum(delivered_n) as delivered,
    sum(opened_n) as opened,
    sum(clicked_n) as clicked,
    sum(replied_n) as replied,
    sum(bounced_n) as bounced,
    sum(unsubscribed_n) as unsubscribed,
    sum(complained_n) as complained,
    uniqExactMerge(unique_opened_state) as unique_opened,
    uniqExactMerge(unique_clicked_state) as unique_clicked,
    sum(bounced_n) - sum(soft_bounced_n) as hard_bounced,
    sum(soft_bounced_n) as soft_bounced,
    sum(auto_replied_n) as auto_replied
from {{database}}.sequence_step_counts_hourly
group by tenant_id, campaign_id, sequence_step_id, day;
