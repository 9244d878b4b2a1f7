-- Raw email events: the one table written by this tier; every metric is computed from it.
--
-- ClickHouse has no transactions and no advisory locks: a migration is a list of statements
-- run one by one, and two replicas may run the same migration at once. Every statement is
-- therefore idempotent (`if not exists`), so a half-applied or concurrently applied migration
-- is finished by simply running it again. `{{database}}` is replaced by CLICKHOUSE_DATABASE.

-- Absent ids are the nil UUID (00000000-0000-0000-0000-000000000000), not NULL: campaign_id is
-- in the sorting key, where Nullable is not allowed, and Nullable costs a null map per column.
--
-- ReplacingMergeTree on a key that ends in event_id: an event stored twice (a redelivery, a
-- retried IngestEvents) has the same key and collapses into one row; queries read with FINAL
-- so duplicates not merged yet are never counted. A redelivered event is byte-identical (its
-- occurred_at and ids come from the producer's outbox row), so the extra columns in the key
-- do not split it. They are there so that a campaign's metrics over a time range read one
-- contiguous slice of the table instead of all of a tenant's events.
create table if not exists {{database}}.email_events
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
    -- When this copy was stored; the ReplacingMergeTree version (the latest copy wins, and
    -- copies are identical anyway) and a way to measure ingestion lag.
    ingested_at      DateTime64(3, 'UTC') default now64(3),
    -- Mailbox and step metrics are not on the sorting key's prefix: a bloom filter lets those
    -- queries skip granules that hold none of the wanted id.
    index email_account_idx email_account_id type bloom_filter(0.01) granularity 4,
    index sequence_step_idx sequence_step_id type bloom_filter(0.01) granularity 4
)
engine = ReplacingMergeTree(ingested_at)
-- Monthly partitions: retention is `alter table ... drop partition`, and FINAL merges only
-- within a partition (a redelivery has the same occurred_at, so the same partition).
partition by toYYYYMM(occurred_at)
order by (tenant_id, campaign_id, occurred_at, event_id);
