-- Issue 10, second design: rollups of plain counts, de-duplicated before they are written.
--
-- Why: 004 kept a uniqExact state (a set of event ids) per bucket and count, so duplicates
-- merged away by themselves, but every read had to deserialize and unite those sets and every
-- insert had to build them: GetCampaignMetrics took ~120 ms at 1M events and ingest ~4,000
-- events/s (bench/README.md). Sets grow with the data; sums do not.
--
-- The rule now: the service decides, before it writes, whether an event is new
-- (src/domain/event-writer.ts). A new event is written once with sign = +1. A copy of an event
-- that is already stored is not written at all, unless it knows more (a higher detail_rank,
-- see 003; for a first open or click, an earlier time): then the stored copy is cancelled (the
-- same row again with sign = -1) and the better copy written with +1, in the same insert. So
-- every count is sum(sign) over rows, and each rollup row holds its bucket's counts as one
-- sumForEach state of an Array(Int64) (an element-wise sum: plain counts, not sets; one column
-- reads in ~60% of the time of twelve here), kept by the materialized views below on every
-- insert; reads merge sums, with no FINAL and no sets. events is a CollapsingMergeTree(sign): a
-- cancel row has the sorting key of the row it cancels, so merges remove both.
--
-- Unique opens and clicks become facts too: the first open (click) of a message is stored as an
-- event of type unique_opened (unique_clicked) under the id derived from (message_ref_id,
-- 'unique_opened') (the same UUIDv5 as fact-id.ts; written out in SQL below), so "unique opens
-- in a range" are the messages FIRST opened in it, and hourly buckets add up to any range.
--
-- How the writer knows what is stored: event_keys, the same rows sorted by (tenant_id,
-- event_id), filled by a materialized view, looked up for the ids of a batch that are not
-- certainly new (an in-process filter of every stored id answers "certainly new" for almost all;
-- see the writer).
--
-- The raw table gets a new name, events: ClickHouse cannot change a table's engine or sorting
-- key, and a materialized view does not follow a RENAME of its source, so a swap of names
-- would leave a window in which a rerun of this file fails half way (003's rename). With a new
-- name every statement here is idempotent: the copy and the conversions skip what is already
-- there, so a half-applied run is completed by running it again. email_events is left as it
-- was (not written any more), the way back; a later migration drops it.
--
-- Documented ClickHouse only (CollapsingMergeTree, AggregatingMergeTree with sumForEach,
-- MATERIALIZED VIEW ... TO, SHA1/hex/unhex, NOT IN over tuples); nothing chDB-only.

-- The insert triggers of 004 go first: nothing writes email_events any more.
drop view if exists {{database}}.campaign_analytics_hourly_mv;
drop view if exists {{database}}.mailbox_analytics_hourly_mv;
drop view if exists {{database}}.sequence_step_analytics_hourly_mv;

create table if not exists {{database}}.events
(
    event_id         UUID,
    tenant_id        UUID,
    occurred_at      DateTime64(3, 'UTC'),
    -- the nine types of event-types.ts, plus unique_opened / unique_clicked (first per message)
    event_type       LowCardinality(String),
    campaign_id      UUID,
    email_account_id UUID,
    sequence_step_id UUID,
    lead_id          UUID,
    message_ref_id   UUID,
    bounce_type      LowCardinality(String) default '',
    variant          LowCardinality(String) default '',
    -- which copy of a fact knows most (003): the writer replaces a stored copy by a higher one
    detail_rank      UInt8 default 2,
    -- +1 a stored copy, -1 the cancellation of one (written with its replacement)
    sign             Int8 default 1,
    ingested_at      DateTime64(3, 'UTC') default now64(3),
    index email_account_idx email_account_id type bloom_filter(0.01) granularity 4,
    index sequence_step_idx sequence_step_id type bloom_filter(0.01) granularity 4,
    -- A campaign's events are in time order, so a granule covers a short span: reads by mailbox
    -- or step over a time window (cut hours, rolling windows) skip the granules outside it.
    index occurred_at_idx occurred_at type minmax granularity 1
)
engine = CollapsingMergeTree(sign)
partition by toYYYYMM(occurred_at)
-- occurred_at is back in the key (003 took it out so that copies collapsed): copies are no
-- longer stored, so a campaign's slice is read in time order and range edges read few granules.
order by (tenant_id, campaign_id, occurred_at, event_id)
-- Granules of 1,024 rows (8,192 by default): a window of one hour of a mailbox or step touches
-- one granule per campaign instead of a day's worth of them.
settings index_granularity = 1024;

-- What the writer looks up: every stored copy by id (and its cancellations).
create table if not exists {{database}}.event_keys
(
    tenant_id   UUID,
    event_id    UUID,
    campaign_id UUID,
    occurred_at DateTime64(3, 'UTC'),
    detail_rank UInt8,
    sign        Int8
)
engine = CollapsingMergeTree(sign)
partition by toYYYYMM(occurred_at)
order by (tenant_id, event_id, campaign_id, occurred_at, detail_rank)
settings index_granularity = 1024;
create materialized view if not exists {{database}}.event_keys_mv to {{database}}.event_keys as
select tenant_id, event_id, campaign_id, occurred_at, detail_rank, sign from {{database}}.events;

-- campaign_hourly: per tenant x campaign_id x UTC hour: the counts as one sumForEach state over
-- [sent, delivered, opened, clicked, replied, bounced, soft_bounced, unsubscribed, complained, auto_replied, unique_opened, unique_clicked]
-- (that order; src/db/rollup-source.ts COUNT_COLUMNS). hard_bounced = bounced - soft_bounced.
create table if not exists {{database}}.campaign_hourly
(
    tenant_id        UUID,
    campaign_id      UUID,
    hour             DateTime('UTC'),
    counts           AggregateFunction(sumForEach, Array(Int64))
)
engine = AggregatingMergeTree
partition by toYYYYMM(hour)
order by (tenant_id, campaign_id, hour);
create materialized view if not exists {{database}}.campaign_hourly_mv to {{database}}.campaign_hourly as
select
    tenant_id,
    campaign_id,
    toStartOfHour(toDateTime(occurred_at, 'UTC')) as hour,
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
group by tenant_id, campaign_id, hour;

-- mailbox_hourly: per tenant x email_account_id x UTC hour: the counts as one sumForEach state over
-- [sent, delivered, opened, clicked, replied, bounced, soft_bounced, unsubscribed, complained, auto_replied, unique_opened, unique_clicked]
-- (that order; src/db/rollup-source.ts COUNT_COLUMNS). hard_bounced = bounced - soft_bounced.
create table if not exists {{database}}.mailbox_hourly
(
    tenant_id        UUID,
    email_account_id UUID,
    hour             DateTime('UTC'),
    counts           AggregateFunction(sumForEach, Array(Int64))
)
engine = AggregatingMergeTree
partition by toYYYYMM(hour)
order by (tenant_id, email_account_id, hour);
create materialized view if not exists {{database}}.mailbox_hourly_mv to {{database}}.mailbox_hourly as
select
    tenant_id,
    email_account_id,
    toStartOfHour(toDateTime(occurred_at, 'UTC')) as hour,
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
group by tenant_id, email_account_id, hour;

-- sequence_step_hourly: per tenant x campaign_id x sequence_step_id x UTC hour: the counts as one sumForEach state over
-- [sent, delivered, opened, clicked, replied, bounced, soft_bounced, unsubscribed, complained, auto_replied, unique_opened, unique_clicked]
-- (that order; src/db/rollup-source.ts COUNT_COLUMNS). hard_bounced = bounced - soft_bounced.
create table if not exists {{database}}.sequence_step_hourly
(
    tenant_id        UUID,
    campaign_id      UUID,
    sequence_step_id UUID,
    hour             DateTime('UTC'),
    counts           AggregateFunction(sumForEach, Array(Int64)),
    index sequence_step_idx sequence_step_id type bloom_filter(0.01) granularity 1
)
engine = AggregatingMergeTree
partition by toYYYYMM(hour)
order by (tenant_id, campaign_id, sequence_step_id, hour);
create materialized view if not exists {{database}}.sequence_step_hourly_mv to {{database}}.sequence_step_hourly as
select
    tenant_id,
    campaign_id,
    sequence_step_id,
    toStartOfHour(toDateTime(occurred_at, 'UTC')) as hour,
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
group by tenant_id, campaign_id, sequence_step_id, hour;

-- COPY the stored events (the materialized views above count them as they arrive), one row per
-- event: a fact of a message (sent, delivered, replied, bounced, auto_replied with a
-- message_ref_id) under the id fact-id.ts derives from (message_ref_id, type) — rows 003 copied
-- kept the ids they came with, so two reports of one fact could still be two rows — and of its
-- copies the one that knows most (highest detail_rank; a copy that knows its bounce type gets
-- the +4 of domain/events.ts if a writer before it left it out). Ids already copied by an
-- earlier, interrupted run are skipped.
insert into {{database}}.events (event_id, tenant_id, occurred_at, event_type, campaign_id, email_account_id, sequence_step_id, lead_id, message_ref_id, bounce_type, variant, detail_rank, sign, ingested_at)
select id, tenant_id, c.1, c.2, c.3, c.4, c.5, c.6, c.7, c.8, c.9, c.10 + if(c.8 != '' and c.10 < 4, 4, 0), 1, c.11
from (
    select tenant_id, id,
        argMax(tuple(occurred_at, event_type, campaign_id, email_account_id, sequence_step_id, lead_id, message_ref_id, bounce_type, variant, detail_rank, ingested_at), detail_rank) as c
    from (
        select tenant_id, event_id, occurred_at, event_type, campaign_id, email_account_id, sequence_step_id, lead_id, message_ref_id, bounce_type, variant, detail_rank, ingested_at,
            event_type in ('sent', 'delivered', 'replied', 'bounced', 'auto_replied') and message_ref_id != toUUID('00000000-0000-0000-0000-000000000000') as is_fact,
            SHA1(concat(unhex('b8a7f3f45f0c4e5e9a517d3c2e8f6a10'), lower(toString(message_ref_id)), '/', event_type)) as s, lower(hex(s)) as h,
            if(is_fact, toUUID(concat(substring(h,1,8),'-',substring(h,9,4),'-5',substring(h,14,3),'-',lower(hex(toUInt8(bitOr(bitAnd(reinterpretAsUInt8(substring(s,9,1)),63),128)))),substring(h,19,2),'-',substring(h,21,12))), event_id) as id
        from {{database}}.email_events final
    )
    group by tenant_id, id
)
where (tenant_id, id) not in (select tenant_id, event_id from {{database}}.event_keys);

-- The first open of every message as its unique_opened fact (the earliest; its id as fact-id.ts derives it).
insert into {{database}}.events (event_id, tenant_id, occurred_at, event_type, campaign_id, email_account_id, sequence_step_id, lead_id, message_ref_id, bounce_type, variant, detail_rank, sign, ingested_at)
select toUUID(concat(substring(h,1,8),'-',substring(h,9,4),'-5',substring(h,14,3),'-',lower(hex(toUInt8(bitOr(bitAnd(reinterpretAsUInt8(substring(s,9,1)),63),128)))),substring(h,19,2),'-',substring(h,21,12))), tenant_id, f_at, 'unique_opened', f_campaign, f_mailbox, f_step, f_lead, message_ref_id, '', '', 2, 1, f_ingested
from (
    select tenant_id, message_ref_id,
        SHA1(concat(unhex('b8a7f3f45f0c4e5e9a517d3c2e8f6a10'), lower(toString(message_ref_id)), '/unique_opened')) as s, lower(hex(s)) as h,
        argMin(tuple(occurred_at, campaign_id, email_account_id, sequence_step_id, lead_id, ingested_at), occurred_at) as first,
        first.1 as f_at, first.2 as f_campaign, first.3 as f_mailbox, first.4 as f_step, first.5 as f_lead, first.6 as f_ingested
    from {{database}}.email_events final
    where event_type = 'opened' and message_ref_id != toUUID('00000000-0000-0000-0000-000000000000')
    group by tenant_id, message_ref_id
)
where (tenant_id, toUUID(concat(substring(h,1,8),'-',substring(h,9,4),'-5',substring(h,14,3),'-',lower(hex(toUInt8(bitOr(bitAnd(reinterpretAsUInt8(substring(s,9,1)),63),128)))),substring(h,19,2),'-',substring(h,21,12)))) not in (select tenant_id, event_id from {{database}}.event_keys);

-- The first click of every message as its unique_clicked fact (the earliest; its id as fact-id.ts derives it).
insert into {{database}}.events (event_id, tenant_id, occurred_at, event_type, campaign_id, email_account_id, sequence_step_id, lead_id, message_ref_id, bounce_type, variant, detail_rank, sign, ingested_at)
select toUUID(concat(substring(h,1,8),'-',substring(h,9,4),'-5',substring(h,14,3),'-',lower(hex(toUInt8(bitOr(bitAnd(reinterpretAsUInt8(substring(s,9,1)),63),128)))),substring(h,19,2),'-',substring(h,21,12))), tenant_id, f_at, 'unique_clicked', f_campaign, f_mailbox, f_step, f_lead, message_ref_id, '', '', 2, 1, f_ingested
from (
    select tenant_id, message_ref_id,
        SHA1(concat(unhex('b8a7f3f45f0c4e5e9a517d3c2e8f6a10'), lower(toString(message_ref_id)), '/unique_clicked')) as s, lower(hex(s)) as h,
        argMin(tuple(occurred_at, campaign_id, email_account_id, sequence_step_id, lead_id, ingested_at), occurred_at) as first,
        first.1 as f_at, first.2 as f_campaign, first.3 as f_mailbox, first.4 as f_step, first.5 as f_lead, first.6 as f_ingested
    from {{database}}.email_events final
    where event_type = 'clicked' and message_ref_id != toUUID('00000000-0000-0000-0000-000000000000')
    group by tenant_id, message_ref_id
)
where (tenant_id, toUUID(concat(substring(h,1,8),'-',substring(h,9,4),'-5',substring(h,14,3),'-',lower(hex(toUInt8(bitOr(bitAnd(reinterpretAsUInt8(substring(s,9,1)),63),128)))),substring(h,19,2),'-',substring(h,21,12)))) not in (select tenant_id, event_id from {{database}}.event_keys);

-- Hours that only the old rollups still know (their raw events are past ANALYTICS_RAW_TTL_DAYS):
-- their counts carried over from the sets (unique opens/clicks there are the distinct messages
-- of each hour, 004's meaning). Hours the copy above already counted are skipped.
insert into {{database}}.campaign_hourly
select tenant_id, campaign_id, hour, sumForEachState(c) as counts
from (
    select tenant_id, campaign_id, hour,
        [
            toInt64(uniqExactMerge(sent_state)),
            toInt64(uniqExactMerge(delivered_state)),
            toInt64(uniqExactMerge(opened_state)),
            toInt64(uniqExactMerge(clicked_state)),
            toInt64(uniqExactMerge(replied_state)),
            toInt64(uniqExactMerge(bounced_state)),
            toInt64(uniqExactMerge(soft_bounced_state)),
            toInt64(uniqExactMerge(unsubscribed_state)),
            toInt64(uniqExactMerge(complained_state)),
            toInt64(uniqExactMerge(auto_replied_state)),
            toInt64(uniqExactMerge(unique_opened_state)),
            toInt64(uniqExactMerge(unique_clicked_state))
        ] as c
    from {{database}}.campaign_analytics_hourly
    where (tenant_id, campaign_id, hour) not in (select tenant_id, campaign_id, hour from {{database}}.campaign_hourly)
    group by tenant_id, campaign_id, hour
)
group by tenant_id, campaign_id, hour;
insert into {{database}}.mailbox_hourly
select tenant_id, email_account_id, hour, sumForEachState(c) as counts
from (
    select tenant_id, email_account_id, hour,
        [
            toInt64(uniqExactMerge(sent_state)),
            toInt64(uniqExactMerge(delivered_state)),
            toInt64(uniqExactMerge(opened_state)),
            toInt64(uniqExactMerge(clicked_state)),
            toInt64(uniqExactMerge(replied_state)),
            toInt64(uniqExactMerge(bounced_state)),
            toInt64(uniqExactMerge(soft_bounced_state)),
            toInt64(uniqExactMerge(unsubscribed_state)),
            toInt64(uniqExactMerge(complained_state)),
            toInt64(uniqExactMerge(auto_replied_state)),
            toInt64(uniqExactMerge(unique_opened_state)),
            toInt64(uniqExactMerge(unique_clicked_state))
        ] as c
    from {{database}}.mailbox_analytics_hourly
    where (tenant_id, email_account_id, hour) not in (select tenant_id, email_account_id, hour from {{database}}.mailbox_hourly)
    group by tenant_id, email_account_id, hour
)
group by tenant_id, email_account_id, hour;
insert into {{database}}.sequence_step_hourly
select tenant_id, campaign_id, sequence_step_id, hour, sumForEachState(c) as counts
from (
    select tenant_id, campaign_id, sequence_step_id, hour,
        [
            toInt64(uniqExactMerge(sent_state)),
            toInt64(uniqExactMerge(delivered_state)),
            toInt64(uniqExactMerge(opened_state)),
            toInt64(uniqExactMerge(clicked_state)),
            toInt64(uniqExactMerge(replied_state)),
            toInt64(uniqExactMerge(bounced_state)),
            toInt64(uniqExactMerge(soft_bounced_state)),
            toInt64(uniqExactMerge(unsubscribed_state)),
            toInt64(uniqExactMerge(complained_state)),
            toInt64(uniqExactMerge(auto_replied_state)),
            toInt64(uniqExactMerge(unique_opened_state)),
            toInt64(uniqExactMerge(unique_clicked_state))
        ] as c
    from {{database}}.sequence_step_analytics_hourly
    where (tenant_id, campaign_id, sequence_step_id, hour) not in (select tenant_id, campaign_id, sequence_step_id, hour from {{database}}.sequence_step_hourly)
    group by tenant_id, campaign_id, sequence_step_id, hour
)
group by tenant_id, campaign_id, sequence_step_id, hour;

-- The seed's names, now over the count rollups (daily, UTC; the same columns as before).
drop view if exists {{database}}.campaign_analytics;
create view if not exists {{database}}.campaign_analytics as
select
    tenant_id,
    campaign_id,
    day,
    c[1] as sent, c[2] as delivered, c[3] as opened, c[4] as clicked, c[5] as replied, c[6] as bounced,
    c[8] as unsubscribed, c[9] as complained, c[11] as unique_opened, c[12] as unique_clicked,
    c[6] - c[7] as hard_bounced, c[7] as soft_bounced, c[10] as auto_replied
from (
    select tenant_id, campaign_id, toDate(hour) as day, sumForEachMerge(counts) as c
    from {{database}}.campaign_hourly
    group by tenant_id, campaign_id, day
);
drop view if exists {{database}}.mailbox_analytics;
create view if not exists {{database}}.mailbox_analytics as
select
    tenant_id,
    email_account_id,
    day,
    c[1] as sent, c[2] as delivered, c[3] as opened, c[4] as clicked, c[5] as replied, c[6] as bounced,
    c[8] as unsubscribed, c[9] as complained, c[11] as unique_opened, c[12] as unique_clicked,
    c[6] - c[7] as hard_bounced, c[7] as soft_bounced, c[10] as auto_replied
from (
    select tenant_id, email_account_id, toDate(hour) as day, sumForEachMerge(counts) as c
    from {{database}}.mailbox_hourly
    group by tenant_id, email_account_id, day
);
drop view if exists {{database}}.sequence_step_analytics;
create view if not exists {{database}}.sequence_step_analytics as
select
    tenant_id,
    campaign_id,
    sequence_step_id,
    day,
    c[1] as sent, c[2] as delivered, c[3] as opened, c[4] as clicked, c[5] as replied, c[6] as bounced,
    c[8] as unsubscribed, c[9] as complained, c[11] as unique_opened, c[12] as unique_clicked,
    c[6] - c[7] as hard_bounced, c[7] as soft_bounced, c[10] as auto_replied
from (
    select tenant_id, campaign_id, sequence_step_id, toDate(hour) as day, sumForEachMerge(counts) as c
    from {{database}}.sequence_step_hourly
    group by tenant_id, campaign_id, sequence_step_id, day
);

-- The old rollups (*_analytics_hourly) stay, like email_events, unwritten: what they knew is in
-- the new ones; a later migration drops all four.

