-- The metadata tier's first schema. Drafted with Prisma 6.19's
-- `migrate diff --from-empty --to-schema-datamodel prisma/schema.prisma --script`, then the
-- objects Prisma cannot express appended at the end (listed in ../../migration-only.json).
-- Never edit once applied: add a new migration folder instead.

-- CreateTable
CREATE TABLE "tenants" (
    "id" UUID NOT NULL DEFAULT gen_random_uuid(),
    "name" VARCHAR(200) NOT NULL,
    "status" VARCHAR(50) NOT NULL DEFAULT 'active',
    "created" TIMESTAMPTZ(6) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updated" TIMESTAMPTZ(6) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "tenants_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "users" (
    "id" UUID NOT NULL DEFAULT gen_random_uuid(),
    "tenant_id" UUID NOT NULL,
    "email" VARCHAR(254) NOT NULL,
    "name" VARCHAR(200),
    "role" VARCHAR(50) NOT NULL DEFAULT 'member',
    "status" VARCHAR(50) NOT NULL DEFAULT 'active',
    "created" TIMESTAMPTZ(6) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updated" TIMESTAMPTZ(6) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "users_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "email_accounts" (
    "id" UUID NOT NULL DEFAULT gen_random_uuid(),
    "tenant_id" UUID NOT NULL,
    "email" VARCHAR(254) NOT NULL,
    "display_name" VARCHAR(200),
    "provider" VARCHAR(50) NOT NULL,
    "daily_send_limit" INTEGER NOT NULL DEFAULT 50,
    "status" VARCHAR(50) NOT NULL DEFAULT 'active',
    "created" TIMESTAMPTZ(6) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updated" TIMESTAMPTZ(6) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "email_accounts_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "leads" (
    "id" UUID NOT NULL DEFAULT gen_random_uuid(),
    "tenant_id" UUID NOT NULL,
    "email" VARCHAR(254) NOT NULL,
    "first_name" VARCHAR(100),
    "last_name" VARCHAR(100),
    "company" VARCHAR(200),
    "custom_fields" JSONB NOT NULL DEFAULT '{}',
    "status" VARCHAR(50) NOT NULL DEFAULT 'new',
    "created" TIMESTAMPTZ(6) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updated" TIMESTAMPTZ(6) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "leads_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "campaigns" (
    "id" UUID NOT NULL DEFAULT gen_random_uuid(),
    "tenant_id" UUID NOT NULL,
    "name" VARCHAR(200) NOT NULL,
    "status" VARCHAR(50) NOT NULL DEFAULT 'draft',
    "timezone" VARCHAR(64) NOT NULL DEFAULT 'UTC',
    "window_start_minute" SMALLINT NOT NULL DEFAULT 540,
    "window_end_minute" SMALLINT NOT NULL DEFAULT 1020,
    "send_days" SMALLINT NOT NULL DEFAULT 62,
    "start_at" TIMESTAMPTZ(6),
    "created" TIMESTAMPTZ(6) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updated" TIMESTAMPTZ(6) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "campaigns_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "campaign_sequence_steps" (
    "id" UUID NOT NULL DEFAULT gen_random_uuid(),
    "tenant_id" UUID NOT NULL,
    "campaign_id" UUID NOT NULL,
    "step_number" INTEGER NOT NULL,
    "delay_minutes" INTEGER NOT NULL DEFAULT 0,
    "subject_template_key" VARCHAR(500) NOT NULL,
    "body_template_key" VARCHAR(500) NOT NULL,
    "created" TIMESTAMPTZ(6) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updated" TIMESTAMPTZ(6) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "campaign_sequence_steps_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "inbox_message_refs" (
    "id" UUID NOT NULL DEFAULT gen_random_uuid(),
    "tenant_id" UUID NOT NULL,
    "email_account_id" UUID NOT NULL,
    "campaign_id" UUID,
    "lead_id" UUID,
    "sequence_step_id" UUID,
    "parent_message_id" UUID,
    "direction" VARCHAR(20) NOT NULL,
    "message_type" VARCHAR(20) NOT NULL DEFAULT 'email',
    "from_email" VARCHAR(254) NOT NULL,
    "to_email" VARCHAR(254) NOT NULL,
    "subject" VARCHAR(500),
    "status" VARCHAR(50) NOT NULL,
    "content_storage_key" VARCHAR(500),
    "provider_message_id" VARCHAR(998),
    "client_key" VARCHAR(200),
    "processed" TIMESTAMPTZ(6),
    "created" TIMESTAMPTZ(6) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updated" TIMESTAMPTZ(6) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "inbox_message_refs_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE INDEX "users_tenant_id_created_id_idx" ON "users"("tenant_id", "created", "id");

-- CreateIndex
CREATE UNIQUE INDEX "users_tenant_id_email_key" ON "users"("tenant_id", "email");

-- CreateIndex
CREATE INDEX "email_accounts_tenant_id_created_id_idx" ON "email_accounts"("tenant_id", "created", "id");

-- CreateIndex
CREATE UNIQUE INDEX "email_accounts_tenant_id_email_key" ON "email_accounts"("tenant_id", "email");

-- CreateIndex
CREATE INDEX "leads_tenant_id_created_id_idx" ON "leads"("tenant_id", "created", "id");

-- CreateIndex
CREATE UNIQUE INDEX "leads_tenant_id_email_key" ON "leads"("tenant_id", "email");

-- CreateIndex
CREATE INDEX "campaigns_tenant_id_created_id_idx" ON "campaigns"("tenant_id", "created", "id");

-- CreateIndex
CREATE INDEX "campaign_sequence_steps_tenant_id_idx" ON "campaign_sequence_steps"("tenant_id");

-- CreateIndex
CREATE UNIQUE INDEX "campaign_sequence_steps_campaign_id_step_number_key" ON "campaign_sequence_steps"("campaign_id", "step_number");

-- CreateIndex
CREATE INDEX "inbox_message_refs_tenant_id_created_id_idx" ON "inbox_message_refs"("tenant_id", "created", "id");

-- CreateIndex
CREATE INDEX "inbox_message_refs_tenant_id_email_account_id_created_id_idx" ON "inbox_message_refs"("tenant_id", "email_account_id", "created", "id");

-- CreateIndex
CREATE INDEX "inbox_message_refs_tenant_id_campaign_id_created_id_idx" ON "inbox_message_refs"("tenant_id", "campaign_id", "created", "id");

-- CreateIndex
CREATE INDEX "inbox_message_refs_lead_id_created_id_idx" ON "inbox_message_refs"("lead_id", "created", "id");

-- CreateIndex
CREATE INDEX "inbox_message_refs_tenant_id_status_created_id_idx" ON "inbox_message_refs"("tenant_id", "status", "created", "id");

-- CreateIndex
CREATE INDEX "inbox_message_refs_parent_message_id_idx" ON "inbox_message_refs"("parent_message_id");

-- CreateIndex
CREATE INDEX "inbox_message_refs_sequence_step_id_idx" ON "inbox_message_refs"("sequence_step_id");

-- CreateIndex
CREATE UNIQUE INDEX "inbox_message_refs_tenant_id_provider_message_id_key" ON "inbox_message_refs"("tenant_id", "provider_message_id");

-- CreateIndex
CREATE UNIQUE INDEX "inbox_message_refs_tenant_id_client_key_key" ON "inbox_message_refs"("tenant_id", "client_key");

-- AddForeignKey
ALTER TABLE "users" ADD CONSTRAINT "users_tenant_id_fkey" FOREIGN KEY ("tenant_id") REFERENCES "tenants"("id") ON DELETE RESTRICT ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "email_accounts" ADD CONSTRAINT "email_accounts_tenant_id_fkey" FOREIGN KEY ("tenant_id") REFERENCES "tenants"("id") ON DELETE RESTRICT ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "leads" ADD CONSTRAINT "leads_tenant_id_fkey" FOREIGN KEY ("tenant_id") REFERENCES "tenants"("id") ON DELETE RESTRICT ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "campaigns" ADD CONSTRAINT "campaigns_tenant_id_fkey" FOREIGN KEY ("tenant_id") REFERENCES "tenants"("id") ON DELETE RESTRICT ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "campaign_sequence_steps" ADD CONSTRAINT "campaign_sequence_steps_tenant_id_fkey" FOREIGN KEY ("tenant_id") REFERENCES "tenants"("id") ON DELETE RESTRICT ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "campaign_sequence_steps" ADD CONSTRAINT "campaign_sequence_steps_campaign_id_fkey" FOREIGN KEY ("campaign_id") REFERENCES "campaigns"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "inbox_message_refs" ADD CONSTRAINT "inbox_message_refs_tenant_id_fkey" FOREIGN KEY ("tenant_id") REFERENCES "tenants"("id") ON DELETE RESTRICT ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "inbox_message_refs" ADD CONSTRAINT "inbox_message_refs_email_account_id_fkey" FOREIGN KEY ("email_account_id") REFERENCES "email_accounts"("id") ON DELETE RESTRICT ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "inbox_message_refs" ADD CONSTRAINT "inbox_message_refs_campaign_id_fkey" FOREIGN KEY ("campaign_id") REFERENCES "campaigns"("id") ON DELETE RESTRICT ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "inbox_message_refs" ADD CONSTRAINT "inbox_message_refs_lead_id_fkey" FOREIGN KEY ("lead_id") REFERENCES "leads"("id") ON DELETE SET NULL ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "inbox_message_refs" ADD CONSTRAINT "inbox_message_refs_sequence_step_id_fkey" FOREIGN KEY ("sequence_step_id") REFERENCES "campaign_sequence_steps"("id") ON DELETE SET NULL ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "inbox_message_refs" ADD CONSTRAINT "inbox_message_refs_parent_message_id_fkey" FOREIGN KEY ("parent_message_id") REFERENCES "inbox_message_refs"("id") ON DELETE SET NULL ON UPDATE CASCADE;


-- Migration-only objects (see ../../migration-only.json for why each exists) ------------

-- Allowed values of the seed's enumerated columns, enforced for every writer (bench loaders,
-- backfills from the legacy `emails` table), not just this service.
alter table inbox_message_refs add constraint inbox_message_refs_direction_check
  check (direction in ('inbound', 'outbound'));
alter table inbox_message_refs add constraint inbox_message_refs_message_type_check
  check (message_type in ('email', 'bounce', 'auto_reply'));
-- RecordMessage's idempotency needs a key: without one, a retry would make a second ref.
alter table inbox_message_refs add constraint inbox_message_refs_idempotency_key_check
  check (provider_message_id is not null or client_key is not null);

-- "A campaign's unprocessed messages, oldest first" (the processing workers' poll) reads only
-- the small unprocessed part of a large table. EXPLAIN on 200k refs / 40 campaigns, 95% processed
-- (see README): this partial index holds only the unprocessed 5% and answers the poll in
-- 0.09 ms; the full (tenant_id, campaign_id, created, id) index would walk past processed rows.
create index inbox_message_refs_unprocessed_idx on inbox_message_refs (tenant_id, campaign_id, created, id)
  where processed is null;

-- `updated` kept current for every writer, including hand-written SQL.
create function pm_touch_updated() returns trigger language plpgsql as $$
begin
  new.updated := now();
  return new;
end $$;
create trigger tenants_touch_updated before update on tenants for each row execute function pm_touch_updated();
create trigger users_touch_updated before update on users for each row execute function pm_touch_updated();
create trigger email_accounts_touch_updated before update on email_accounts for each row execute function pm_touch_updated();
create trigger leads_touch_updated before update on leads for each row execute function pm_touch_updated();
create trigger campaigns_touch_updated before update on campaigns for each row execute function pm_touch_updated();
create trigger campaign_sequence_steps_touch_updated before update on campaign_sequence_steps for each row execute function pm_touch_updated();
create trigger inbox_message_refs_touch_updated before update on inbox_message_refs for each row execute function pm_touch_updated();

-- The transactional outbox, verbatim from the service kit (modelled as OutboxEvent).
create table outbox_events (
  id uuid primary key,
  tenant_id uuid not null,
  subject varchar(255) not null,
  event_type varchar(200) not null,
  payload bytea not null,
  created timestamptz not null default now(),
  published timestamptz,
  attempts integer not null default 0,
  last_error text
);
create index outbox_events_unpublished_idx on outbox_events (created) where published is null;
create function pm_outbox_notify() returns trigger language plpgsql as $$ begin perform pg_notify('pm_outbox', ''); return null; end $$;
create trigger outbox_events_notify after insert on outbox_events for each statement execute function pm_outbox_notify();
