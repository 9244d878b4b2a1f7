-- The seed's three OLAP tables: daily aggregates per tenant x campaign / mailbox / sequence
-- step. They are views over email_events FINAL, computed when read, not materialized views:
-- a materialized view sees each inserted block, so an event delivered twice would be counted
-- twice (see README, "Why views and not materialized views"). BI tools read these; the RPCs
-- query email_events directly because their ranges need not start or end at midnight.
--
-- Idempotent statements only (no transactions in ClickHouse): see 001_email_events.sql.

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
    uniqExactIf(message_ref_id, event_type = 'clicked' and message_ref_id != toUUID('00000000-0000-0000-0000-000000000000')) as unique_clicked
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
    uniqExactIf(message_ref_id, event_type = 'clicked' and message_ref_id != toUUID('00000000-0000-0000-0000-000000000000')) as unique_clicked
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
    uniqExactIf(message_ref_id, event_type = 'clicked' and message_ref_id != toUUID('00000000-0000-0000-0000-000000000000')) as unique_clicked
from {{database}}.email_events final
where sequence_step_id != toUUID('00000000-0000-0000-0000-000000000000')
group by tenant_id, campaign_id, sequence_step_id, day;
