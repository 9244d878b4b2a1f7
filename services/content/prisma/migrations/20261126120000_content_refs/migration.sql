-- Issue 8: which content objects a message ref names, so that content whose writer died
-- before recording the ref (an orphan) can be collected after a grace period.
-- Drafted with Prisma 6.19's `migrate diff` from the previous schema to this one, then the
-- backfill appended. Never edit once applied: add a new migration folder instead.

-- CreateTable
CREATE TABLE "content_refs" (
    "tenant_id" UUID NOT NULL,
    "storage_key" VARCHAR(500) NOT NULL,
    "message_id" UUID,
    "first_seen" TIMESTAMPTZ(6) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "content_refs_pkey" PRIMARY KEY ("tenant_id","storage_key")
);

-- CreateTable
CREATE TABLE "consumed_events" (
    "consumer" VARCHAR(100) NOT NULL,
    "event_id" UUID NOT NULL,
    "consumed" TIMESTAMPTZ NOT NULL DEFAULT now(),

    CONSTRAINT "consumed_events_pkey" PRIMARY KEY ("consumer","event_id")
);

-- CreateIndex
CREATE INDEX "content_objects_created_idx" ON "content_objects"("created");

-- Every object stored before refs were tracked is taken as referenced (message_id null: the
-- ref is not known, only assumed): the metadata stream no longer holds the events of old
-- messages, and collecting a body an inbox still shows is the one mistake this must not make.
INSERT INTO content_refs (tenant_id, storage_key, message_id)
SELECT tenant_id, storage_key, NULL FROM content_objects;
