-- Issue 8 ("the four tiers working as one"): a bounce ref's type, a ref's content_state, a
-- mailbox's hard bounces, what the content tier's events said about each storage key, and the
-- inbox of event ids the content-events consumer has handled. Drafted with Prisma 6.19's
-- `migrate diff` from the previous schema.prisma, then the objects Prisma cannot express
-- appended (listed in ../../migration-only.json). Never edit once applied.

-- AlterTable
ALTER TABLE "email_accounts" ADD COLUMN     "hard_bounce_count" INTEGER NOT NULL DEFAULT 0;

-- AlterTable
ALTER TABLE "inbox_message_refs" ADD COLUMN     "bounce_type" VARCHAR(10),
ADD COLUMN     "content_state" VARCHAR(20) NOT NULL DEFAULT 'unspecified';

-- CreateTable
CREATE TABLE "content_keys" (
    "tenant_id" UUID NOT NULL,
    "storage_key" VARCHAR(500) NOT NULL,
    "state" VARCHAR(20) NOT NULL,
    "updated" TIMESTAMPTZ(6) NOT NULL,

    CONSTRAINT "content_keys_pkey" PRIMARY KEY ("tenant_id","storage_key")
);

-- CreateTable
CREATE TABLE "consumed_events" (
    "consumer" VARCHAR(100) NOT NULL,
    "event_id" UUID NOT NULL,
    "consumed" TIMESTAMPTZ NOT NULL DEFAULT now(),

    CONSTRAINT "consumed_events_pkey" PRIMARY KEY ("consumer","event_id")
);

-- CreateIndex
CREATE INDEX "inbox_message_refs_tenant_id_content_storage_key_idx" ON "inbox_message_refs"("tenant_id", "content_storage_key");

-- CreateIndex
CREATE INDEX "consumed_events_consumed_idx" ON "consumed_events"("consumed");


-- Migration-only objects (see ../../migration-only.json for why each exists) ------------

-- Refs recorded before this migration: a bounce was counted as hard (the default of an
-- unspecified bounce type), a ref with a key waits for the content tier's events (the new
-- consumer reads the content stream from its start, so the keys it still holds are confirmed).
-- The touch trigger is held off: this backfill is not a change of the refs.
alter table inbox_message_refs disable trigger inbox_message_refs_touch_updated;
update inbox_message_refs set bounce_type = 'hard' where message_type = 'bounce';
update inbox_message_refs set content_state = 'pending' where content_storage_key is not null;
alter table inbox_message_refs enable trigger inbox_message_refs_touch_updated;

-- A bounce type exactly on bounce refs, and the enumerated values, for every writer.
alter table inbox_message_refs add constraint inbox_message_refs_bounce_type_check
  check ((message_type = 'bounce') = (bounce_type is not null) and (bounce_type is null or bounce_type in ('hard', 'soft')));
alter table inbox_message_refs add constraint inbox_message_refs_content_state_check
  check (content_state in ('unspecified', 'pending', 'stored', 'expired', 'deleted')
         and (content_state = 'unspecified') = (content_storage_key is null));
alter table content_keys add constraint content_keys_state_check
  check (state in ('stored', 'expired', 'deleted'));
alter table email_accounts add constraint email_accounts_hard_bounce_count_check
  check (hard_bounce_count >= 0);
