-- Issue 10: A/B variants. A sequence step may send several variants of its message; the send
-- path passes the variant's name on the message's events (at least on `sent`). Events without
-- it ('' = none) are attributed through their message_ref_id to the variant of their message
-- (src/db/query-variants.ts), so opens, clicks and replies reported by paths that do not know
-- the variant (tracking, the metadata tier's events) still count for it.
--
-- Idempotent (see 001). A column with a default: parts written before read ''.
alter table {{database}}.email_events add column if not exists variant LowCardinality(String) default '' after bounce_type;
