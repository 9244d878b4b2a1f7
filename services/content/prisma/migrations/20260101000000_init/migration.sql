-- The content tier's first schema. Drafted with Prisma 6.19's
-- `migrate diff --from-empty --to-schema-datamodel prisma/schema.prisma --script`, then the
-- objects Prisma cannot express appended at the end (listed in ../../migration-only.json).
-- Never edit once applied: add a new migration folder instead.

-- CreateTable
CREATE TABLE "content_objects" (
    "storage_key" VARCHAR(500) NOT NULL,
    "tenant_id" UUID NOT NULL,
    "content_text" TEXT,
    "content_html" TEXT,
    "headers" JSONB,
    "raw_size_bytes" INTEGER NOT NULL,
    "created" TIMESTAMPTZ(6) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "expires" TIMESTAMPTZ(6),

    CONSTRAINT "content_objects_pkey" PRIMARY KEY ("storage_key")
);

-- CreateTable
CREATE TABLE "attachments" (
    "id" UUID NOT NULL,
    "tenant_id" UUID NOT NULL,
    "parent_storage_key" VARCHAR(500) NOT NULL,
    "filename" VARCHAR(255),
    "mime_type" VARCHAR(100) NOT NULL,
    "size_bytes" INTEGER NOT NULL,
    "content" BYTEA NOT NULL,
    "storage_disposition" VARCHAR(50) NOT NULL DEFAULT 'attachment',
    "created" TIMESTAMPTZ(6) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "attachments_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "outbox_events" (
    "id" UUID NOT NULL,
    "tenant_id" UUID NOT NULL,
    "subject" VARCHAR(255) NOT NULL,
    "event_type" VARCHAR(200) NOT NULL,
    "payload" BYTEA NOT NULL,
    "created" TIMESTAMPTZ NOT NULL DEFAULT now(),
    "published" TIMESTAMPTZ,
    "attempts" INTEGER NOT NULL DEFAULT 0,
    "last_error" TEXT,

    CONSTRAINT "outbox_events_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE INDEX "content_objects_tenant_created_idx" ON "content_objects"("tenant_id", "created");

-- CreateIndex
CREATE INDEX "attachments_parent_created_idx" ON "attachments"("parent_storage_key", "created", "id");

-- AddForeignKey
ALTER TABLE "attachments" ADD CONSTRAINT "attachments_parent_storage_key_fkey" FOREIGN KEY ("parent_storage_key") REFERENCES "content_objects"("storage_key") ON DELETE CASCADE ON UPDATE CASCADE;

-- Below: what schema.prisma cannot express.

-- Storage keys are `<tenant_id>/...`. The key alone then names its tenant: two tenants can
-- never collide on a key (so an insert conflict never reveals another tenant's key), and an
-- attachment whose parent key starts with its own tenant_id can only hang under an object of
-- that same tenant (the FK plus these two checks make cross-tenant attachments impossible).
ALTER TABLE content_objects ADD CONSTRAINT content_objects_storage_key_tenant_check
  CHECK (starts_with(storage_key, tenant_id::text || '/'));
ALTER TABLE attachments ADD CONSTRAINT attachments_parent_storage_key_tenant_check
  CHECK (starts_with(parent_storage_key, tenant_id::text || '/'));
ALTER TABLE content_objects ADD CONSTRAINT content_objects_raw_size_bytes_check CHECK (raw_size_bytes >= 0);
ALTER TABLE attachments ADD CONSTRAINT attachments_size_bytes_check CHECK (size_bytes >= 0);
ALTER TABLE attachments ADD CONSTRAINT attachments_storage_disposition_check
  CHECK (storage_disposition IN ('attachment', 'inline'));

-- The retention sweeper's scan: expired objects, oldest first. Partial because objects kept
-- forever (expires null) never need to be found by expiry.
CREATE INDEX content_objects_expires_idx ON content_objects (expires) WHERE expires IS NOT NULL;

-- The shared outbox DDL (service-kit), verbatim below the table Prisma drafted above.
create index outbox_events_unpublished_idx on outbox_events (created) where published is null;
create function pm_outbox_notify() returns trigger language plpgsql as $$ begin perform pg_notify('pm_outbox', ''); return null; end $$;
create trigger outbox_events_notify after insert on outbox_events for each statement execute function pm_outbox_notify();
