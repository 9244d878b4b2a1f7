-- Issue 10: a minute level under the hourly rollups, so that a range which cuts hours
-- is answered from rollups only.
--
-- Why: since 006 a range that cuts hours (every "last 30 days" ending now, the rolling 24 h /
-- 28 d windows of mailbox health) read the hourly rollup for its whole hours PLUS the raw
-- `events` for the cut parts of its first and last hour. `events` is sorted by campaign, so the
-- cut parts of one MAILBOX touched a granule of every campaign: the mailbox series and mailbox
-- health were slower than PostgreSQL (0.1x / 0.9x at 10M events, bench/README.md).
--
-- What: three companion rollups, per UTC minute, with the same keys and the same `counts`
-- state as the hourly ones (the sumForEach of the array of sign x condition, in the order of
-- src/db/rollup-source.ts COUNT_COLUMNS), kept by materialized views on every insert into
-- `events` — so they follow the writer's cancellation rows (sign -1) exactly like the hourly
-- level. A range is now read as whole hours from *_hourly and the minutes of its cut hours from
-- *_minutely (src/db/rollup-source.ts). Bounds are exact to the minute: a minute counts when it
-- STARTS inside the range (as a UTC hour counts for the local day it starts in); sub-minute
-- bounds are rounded up to the next minute (a change of meaning from 006, which read the raw
-- edges to the millisecond; documented in the README).
--
-- Sorted by time before the id (tenant_id, minute, ...), granules of 1,024 rows: the minute
-- level is only read for the cut parts of a range (at most an hour at each end), and in time
-- order those are a few granules whether the question names one id (a mailbox's health) or
-- every id of the tenant (the mailbox list, the top campaigns). Sorted by id first, a
-- tenant-wide question would read every minute row of the tenant.
--
-- They live as long as the raw events (src/db/apply-retention.ts gives them
-- ANALYTICS_RAW_TTL_DAYS): the edges of a range older than that counted nothing before (no raw
-- events left) and count nothing now.
--
-- Backfill: every minute bucket gets (sums over `events`) - (sums already in the minute
-- rollup) when they differ, the same correcting row src/db/repair-recent.ts writes. So it is
-- exact whatever the views already counted (the views are created first: an insert that lands
-- between the view and the backfill is in both sides of the difference), and a rerun finds
-- nothing to add. Documented ClickHouse only (AggregatingMergeTree, MATERIALIZED VIEW ... TO,
-- LEFT JOIN, arrayMap / arrayResize / arrayExists).

-- campaign_minutely: per tenant x campaign_id x UTC minute; counts as in campaign_hourly.
create table if not exists {{database}}.campaign_minutely
(
    tenant_id        UUID,
    campaign_id      UUID,
    minute           DateTime('UTC'),
    counts           AggregateFunction(sumForEach, Array(Int64))
)
engine = AggregatingMergeTree
partition by toYYYYMM(minute)
order by (tenant_id, minute, campaign_id)
settings index_granularity = 1024;
create materialized view if not exists {{database}}.campaign_minutely_mv to {{database}}.campaign_minutely as
select
    tenant_id,
    campaign_id,
    toStartOfMinute(toDateTime(occurred_at, 'UTC')) as minute,
    sumForEachState([
        toInt64(sign * (event_type = 'sent')),
        toInt64(sign * (event_type = 'delivered')),
        toInt64(sign * (event_type = 'opened')),
        toInt64(sign * (event_type = 'clicked')),
        toInt64(sign * (event_type = 'replied')),
        toInt64(sign * (event_type = 'bounced')),
        toInt64(sign * (event_type = 'bounced' and bounce_type = 'soft')),
        toInt64(sign * (event_type = 'unsubscribed')),
        toInt64(sign * (event_type = 'complained')),
        toInt64(sign * (event_type = 'auto_replied')),
        toInt64(sign * (event_type = 'unique_opened')),
        toInt64(sign * (event_type = 'unique_clicked'))
    ]) as counts
from {{database}}.events
where campaign_id != toUUID('00000000-0000-0000-0000-000000000000')
group by tenant_id, campaign_id, minute;
-- Backfill of campaign_minutely from the stored events (a rerun adds nothing).
insert into {{database}}.campaign_minutely (tenant_id, campaign_id, minute, counts)
select tenant_id, campaign_id, minute, sumForEachState(delta)
from (
    select tenant_id, campaign_id, minute,
        arrayMap((x, y) -> x - y, arrayResize(raw_c, 12, toInt64(0)), arrayResize(roll_c, 12, toInt64(0))) as delta
    from (
        select
            tenant_id,
            campaign_id,
            toStartOfMinute(toDateTime(occurred_at, 'UTC')) as minute,
            sumForEach([
                toInt64(sign * (event_type = 'sent')),
                toInt64(sign * (event_type = 'delivered')),
                toInt64(sign * (event_type = 'opened')),
                toInt64(sign * (event_type = 'clicked')),
                toInt64(sign * (event_type = 'replied')),
                toInt64(sign * (event_type = 'bounced')),
                toInt64(sign * (event_type = 'bounced' and bounce_type = 'soft')),
                toInt64(sign * (event_type = 'unsubscribed')),
                toInt64(sign * (event_type = 'complained')),
                toInt64(sign * (event_type = 'auto_replied')),
                toInt64(sign * (event_type = 'unique_opened')),
                toInt64(sign * (event_type = 'unique_clicked'))
            ]) as raw_c
        from {{database}}.events
        where campaign_id != toUUID('00000000-0000-0000-0000-000000000000')
        group by tenant_id, campaign_id, minute
    ) as a
    left join (
        select tenant_id, campaign_id, minute, sumForEachMerge(counts) as roll_c
        from {{database}}.campaign_minutely
        group by tenant_id, campaign_id, minute
    ) as b using (tenant_id, campaign_id, minute)
    where arrayExists((x) -> x != 0, delta)
)
group by tenant_id, campaign_id, minute;

-- mailbox_minutely: per tenant x email_account_id x UTC minute; counts as in mailbox_hourly.
create table if not exists {{database}}.mailbox_minutely
(
    tenant_id        UUID,
    email_account_id UUID,
    minute           DateTime('UTC'),
    counts           AggregateFunction(sumForEach, Array(Int64))
)
engine = AggregatingMergeTree
partition by toYYYYMM(minute)
order by (tenant_id, minute, email_account_id)
settings index_granularity = 1024;
create materialized view if not exists {{database}}.mailbox_minutely_mv to {{database}}.mailbox_minutely as
select
    tenant_id,
    email_account_id,
    toStartOfMinute(toDateTime(occurred_at, 'UTC')) as minute,
    sumForEachState([
        toInt64(sign * (event_type = 'sent')),
        toInt64(sign * (event_type = 'delivered')),
        toInt64(sign * (event_type = 'opened')),
        toInt64(sign * (event_type = 'clicked')),
        toInt64(sign * (event_type = 'replied')),
        toInt64(sign * (event_type = 'bounced')),
        toInt64(sign * (event_type = 'bounced' and bounce_type = 'soft')),
        toInt64(sign * (event_type = 'unsubscribed')),
        toInt64(sign * (event_type = 'complained')),
        toInt64(sign * (event_type = 'auto_replied')),
        toInt64(sign * (event_type = 'unique_opened')),
        toInt64(sign * (event_type = 'unique_clicked'))
    ]) as counts
from {{database}}.events
where email_account_id != toUUID('00000000-0000-0000-0000-000000000000')
group by tenant_id, email_account_id, minute;
-- Backfill of mailbox_minutely from the stored events (a rerun adds nothing).
insert into {{database}}.mailbox_minutely (tenant_id, email_account_id, minute, counts)
select tenant_id, email_account_id, minute, sumForEachState(delta)
from (
    select tenant_id, email_account_id, minute,
        arrayMap((x, y) -> x - y, arrayResize(raw_c, 12, toInt64(0)), arrayResize(roll_c, 12, toInt64(0))) as delta
    from (
        select
            tenant_id,
            email_account_id,
            toStartOfMinute(toDateTime(occurred_at, 'UTC')) as minute,
            sumForEach([
                toInt64(sign * (event_type = 'sent')),
                toInt64(sign * (event_type = 'delivered')),
                toInt64(sign * (event_type = 'opened')),
                toInt64(sign * (event_type = 'clicked')),
                toInt64(sign * (event_type = 'replied')),
                toInt64(sign * (event_type = 'bounced')),
                toInt64(sign * (event_type = 'bounced' and bounce_type = 'soft')),
                toInt64(sign * (event_type = 'unsubscribed')),
                toInt64(sign * (event_type = 'complained')),
                toInt64(sign * (event_type = 'auto_replied')),
                toInt64(sign * (event_type = 'unique_opened')),
                toInt64(sign * (event_type = 'unique_clicked'))
            ]) as raw_c
        from {{database}}.events
        where email_account_id != toUUID('00000000-0000-0000-0000-000000000000')
        group by tenant_id, email_account_id, minute
    ) as a
    left join (
        select tenant_id, email_account_id, minute, sumForEachMerge(counts) as roll_c
        from {{database}}.mailbox_minutely
        group by tenant_id, email_account_id, minute
    ) as b using (tenant_id, email_account_id, minute)
    where arrayExists((x) -> x != 0, delta)
)
group by tenant_id, email_account_id, minute;

-- sequence_step_minutely: per tenant x campaign_id x sequence_step_id x UTC minute; counts as in sequence_step_hourly.
create table if not exists {{database}}.sequence_step_minutely
(
    tenant_id        UUID,
    campaign_id      UUID,
    sequence_step_id UUID,
    minute           DateTime('UTC'),
    counts           AggregateFunction(sumForEach, Array(Int64))
)
engine = AggregatingMergeTree
partition by toYYYYMM(minute)
order by (tenant_id, minute, campaign_id, sequence_step_id)
settings index_granularity = 1024;
create materialized view if not exists {{database}}.sequence_step_minutely_mv to {{database}}.sequence_step_minutely as
select
    tenant_id,
    campaign_id,
    sequence_step_id,
    toStartOfMinute(toDateTime(occurred_at, 'UTC')) as minute,
    sumForEachState([
        toInt64(sign * (event_type = 'sent')),
        toInt64(sign * (event_type = 'delivered')),
        toInt64(sign * (event_type = 'opened')),
        toInt64(sign * (event_type = 'clicked')),
        toInt64(sign * (event_type = 'replied')),
        toInt64(sign * (event_type = 'bounced')),
        toInt64(sign * (event_type = 'bounced' and bounce_type = 'soft')),
        toInt64(sign * (event_type = 'unsubscribed')),
        toInt64(sign * (event_type = 'complained')),
        toInt64(sign * (event_type = 'auto_replied')),
        toInt64(sign * (event_type = 'unique_opened')),
        toInt64(sign * (event_type = 'unique_clicked'))
    ]) as counts
from {{database}}.events
where sequence_step_id != toUUID('00000000-0000-0000-0000-000000000000')
group by tenant_id, campaign_id, sequence_step_id, minute;
-- Backfill of sequence_step_minutely from the stored events (a rerun adds nothing).
insert into {{database}}.sequence_step_minutely (tenant_id, campaign_id, sequence_step_id, minute, counts)
select tenant_id, campaign_id, sequence_step_id, minute, sumForEachState(delta)
from (
    select tenant_id, campaign_id, sequence_step_id, minute,
        arrayMap((x, y) -> x - y, arrayResize(raw_c, 12, toInt64(0)), arrayResize(roll_c, 12, toInt64(0))) as delta
    from (
        select
            tenant_id,
            campaign_id,
            sequence_step_id,
            toStartOfMinute(toDateTime(occurred_at, 'UTC')) as minute,
            sumForEach([
                toInt64(sign * (event_type = 'sent')),
                toInt64(sign * (event_type = 'delivered')),
                toInt64(sign * (event_type = 'opened')),
                toInt64(sign * (event_type = 'clicked')),
                toInt64(sign * (event_type = 'replied')),
                toInt64(sign * (event_type = 'bounced')),
                toInt64(sign * (event_type = 'bounced' and bounce_type = 'soft')),
                toInt64(sign * (event_type = 'unsubscribed')),
                toInt64(sign * (event_type = 'complained')),
                toInt64(sign * (event_type = 'auto_replied')),
                toInt64(sign * (event_type = 'unique_opened')),
                toInt64(sign * (event_type = 'unique_clicked'))
            ]) as raw_c
        from {{database}}.events
        where sequence_step_id != toUUID('00000000-0000-0000-0000-000000000000')
        group by tenant_id, campaign_id, sequence_step_id, minute
    ) as a
    left join (
        select tenant_id, campaign_id, sequence_step_id, minute, sumForEachMerge(counts) as roll_c
        from {{database}}.sequence_step_minutely
        group by tenant_id, campaign_id, sequence_step_id, minute
    ) as b using (tenant_id, campaign_id, sequence_step_id, minute)
    where arrayExists((x) -> x != 0, delta)
)
group by tenant_id, campaign_id, sequence_step_id, minute;
