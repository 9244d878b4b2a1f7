-- Issue 8: the metadata tier's events feed email_events beside IngestEvents, and one fact of a
-- message (its sent, delivered, replied, bounced, auto_replied) must be one row whichever path
-- reported it. Such an event's event_id is derived from (message_ref_id, type) (see
-- src/domain/fact-id.ts), and its copies from different paths differ in details:
--   * occurred_at: the ref's creation time, a status change's changed_at, a caller's time;
--   * bounce_type: known from the bounce message, unknown from a status change.
-- So email_events changes in three ways ClickHouse cannot ALTER in place:
--   * occurred_at leaves the sorting key (copies with different times must have one key);
--     the key is (tenant_id, campaign_id, event_id): a campaign's events stay one slice;
--   * the ReplacingMergeTree version becomes detail_rank (the copy that knows most wins,
--     src/domain/events.ts says how it is computed) instead of ingested_at;
--   * new column bounce_type ('hard', 'soft', '' = unknown, counted as hard).
-- A new table is created, filled from the old one, and put in its place by renames.
--
-- Idempotence (no transactions in ClickHouse; see 001): statements 1-2 run again harmlessly
-- (the copy is guarded: it copies only while `email_events` is still the old table; a repeated
-- copy would collapse anyway, same key and version). The rename (3) is the one step that is not
-- repeatable; it is written so that repeating it FAILS instead of doing harm: the old table is
-- kept as email_events_002 and a rename onto an existing name is refused. Run this migration
-- with no writer of the previous version running (rows it writes to the old table after the
-- copy are picked up by statement 4 only if they reach the table before it runs).

-- 1. The new table (same columns as 001 plus bounce_type and detail_rank).
create table if not exists {{database}}.email_events_003
(
    event_id         UUID,
    tenant_id        UUID,
    occurred_at      DateTime64(3, 'UTC'),
    event_type       LowCardinality(String),
    campaign_id      UUID,
    email_account_id UUID,
    sequence_step_id UUID,
    lead_id          UUID,
    message_ref_id   UUID,
    -- For bounced events: 'hard', 'soft', or '' when the reporting path did not know
    -- (a status change); '' counts as hard.
    bounce_type      LowCardinality(String) default '',
    -- Which copy of an event wins when paths report it with different details: the highest.
    -- 1 a status change, 2 IngestEvents, 3 the message itself (MessageRecorded); +4 when the
    -- copy knows the bounce type. Equal ranks: the last inserted wins (copies are alike).
    detail_rank      UInt8 default 2,
    ingested_at      DateTime64(3, 'UTC') default now64(3),
    index email_account_idx email_account_id type bloom_filter(0.01) granularity 4,
    index sequence_step_idx sequence_step_id type bloom_filter(0.01) granularity 4,
    -- occurred_at left the sorting key: a minmax index keeps time-range filters cheap where
    -- a granule's events are close in time.
    index occurred_at_idx occurred_at type minmax granularity 4
)
engine = ReplacingMergeTree(detail_rank)
partition by toYYYYMM(occurred_at)
order by (tenant_id, campaign_id, event_id);

-- 2. Copy the old rows, only while email_events is the old table (it has no detail_rank yet).
-- Old rows all came through IngestEvents: rank 2, bounce type unknown. Their event ids are
-- kept as they were (ClickHouse has no UUIDv5 function to re-derive them in SQL).
insert into {{database}}.email_events_003
    (event_id, tenant_id, occurred_at, event_type, campaign_id, email_account_id, sequence_step_id, lead_id, message_ref_id, bounce_type, detail_rank, ingested_at)
select event_id, tenant_id, occurred_at, event_type, campaign_id, email_account_id, sequence_step_id, lead_id, message_ref_id, '', 2, ingested_at
from {{database}}.email_events
where (select count() from system.columns where database = {{database_literal}} and table = 'email_events' and name = 'detail_rank') = 0;

-- 3. Swap: the old table stays as email_events_002 (the way back; a later migration drops it).
rename table {{database}}.email_events to {{database}}.email_events_002, {{database}}.email_events_003 to {{database}}.email_events;

-- 4. Rows an old writer added between 2 and 3 (same key and version: re-copied rows collapse).
insert into {{database}}.email_events
    (event_id, tenant_id, occurred_at, event_type, campaign_id, email_account_id, sequence_step_id, lead_id, message_ref_id, bounce_type, detail_rank, ingested_at)
select event_id, tenant_id, occurred_at, event_type, campaign_id, email_account_id, sequence_step_id, lead_id, message_ref_id, '', 2, ingested_at
from {{database}}.email_events_002
where ingested_at >= (select max(ingested_at) from {{database}}.email_events where detail_rank = 2);

-- 5. The views of 002 again, now with hard_bounced, soft_bounced and auto_replied (a view
-- stores its query; re-created so it reads the new table and the new columns).
drop view if exists {{database}}.campaign_analytics;
drop view if exists {{database}}.mailbox_analytics;
drop view if exists {{database}}.sequence_step_analytics;

create view if not exists {{database}}.campaign_analytics as
select
    tenant_id,
    campaign_id,
    toDate(occurred_at)                                                   as day,
    countIf(event_type = 'sent')                                          as sent,
    countIf(event_type = 'delivered')                                     as delivered,
    countIf(event_type = 'opened')                                        as opened,
    countIf(event_type = 'clicked')                                       as clicked,
    countIf(event_type = 'replied')                                       as replied,
    countIf(event_type = 'bounced')                                       as bounced,
    countIf(event_type = 'unsubscribed')                                  as unsubscribed,
    countIf(event_type = 'complained')                                    as complained,
    uniqExactIf(message_ref_id, event_type = 'opened' and message_ref_id != toUUID('00000000-0000-0000-0000-000000000000'))  as unique_opened,
    uniqExactIf(message_ref_id, event_type = 'clicked' and message_ref_id != toUUID('00000000-0000-0000-0000-000000000000')) as unique_clicked,
    countIf(event_type = 'bounced' and bounce_type != 'soft')            as hard_bounced,
    countIf(event_type = 'bounced' and bounce_type = 'soft')             as soft_bounced,
    countIf(event_type = 'auto_replied')                                  as auto_replied
from {{database}}.email_events final
where campaign_id != toUUID('00000000-0000-0000-0000-000000000000')
group by tenant_id, campaign_id, day;

create view if not exists {{database}}.mailbox_analytics as
select
    tenant_id,
    email_account_id,
    toDate(occurred_at)                                                   as day,
    countIf(event_type = 'sent')                                          as sent,
    countIf(event_type = 'delivered')                                     as delivered,
    countIf(event_type = 'opened')                                        as opened,
    countIf(event_type = 'clicked')                                       as clicked,
    countIf(event_type = 'replied')                                       as replied,
    countIf(event_type = 'bounced')                                       as bounced,
    countIf(event_type = 'unsubscribed')                                  as unsubscribed,
    countIf(event_type = 'complained')                                    as complained,
    uniqExactIf(message_ref_id, event_type = 'opened' and message_ref_id != toUUID('00000000-0000-0000-0000-000000000000'))  as unique_opened,
    uniqExactIf(message_ref_id, event_type = 'clicked' and message_ref_id != toUUID('00000000-0000-0000-0000-000000000000')) as unique_clicked,
    countIf(event_type = 'bounced' and bounce_type != 'soft')            as hard_bounced,
    countIf(event_type = 'bounced' and bounce_type = 'soft')             as soft_bounced,
    countIf(event_type = 'auto_replied')                                  as auto_replied
from {{database}}.email_events final
where email_account_id != toUUID('00000000-0000-0000-0000-000000000000')
group by tenant_id, email_account_id, day;

create view if not exists {{database}}.sequence_step_analytics as
select
    tenant_id,
    campaign_id,
    sequence_step_id,
    toDate(occurred_at)                                                   as day,
    countIf(event_type = 'sent')                                          as sent,
    countIf(event_type = 'delivered')                                     as delivered,
    countIf(event_type = 'opened')                                        as opened,
    countIf(event_type = 'clicked')                                       as clicked,
    countIf(event_type = 'replied')                                       as replied,
    countIf(event_type = 'bounced')                                       as bounced,
    countIf(event_type = 'unsubscribed')                                  as unsubscribed,
    countIf(event_type = 'complained')                                    as complained,
    uniqExactIf(message_ref_id, event_type = 'opened' and message_ref_id != toUUID('00000000-0000-0000-0000-000000000000'))  as unique_opened,
    uniqExactIf(message_ref_id, event_type = 'clicked' and message_ref_id != toUUID('00000000-0000-0000-0000-000000000000')) as unique_clicked,
    countIf(event_type = 'bounced' and bounce_type != 'soft')            as hard_bounced,
    countIf(event_type = 'bounced' and bounce_type = 'soft')             as soft_bounced,
    countIf(event_type = 'auto_replied')                                  as auto_replied
from {{database}}.email_events final
where sequence_step_id != toUUID('00000000-0000-0000-0000-000000000000')
group by tenant_id, campaign_id, sequence_step_id, day;
