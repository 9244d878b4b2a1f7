-- Issue 11: the rest of the seed's content tier (transactional_emails, notifications) and
-- attachment bytes stored once per tenant and digest (blobs, reference-counted).
-- Drafted with `prisma migrate diff` from the previous schema to this one, then the objects
-- Prisma cannot express appended (listed in ../../migration-only.json), then the backfill.
-- Never edit once applied: add a new migration folder instead.

-- CreateTable
CREATE TABLE "transactional_emails" (
    "id" UUID NOT NULL,
    "tenant_id" UUID NOT NULL,
    "recipient_email" VARCHAR(254) NOT NULL,
    "recipient_user_id" UUID,
    "kind" VARCHAR(50) NOT NULL,
    "subject" VARCHAR(500) NOT NULL,
    "status" VARCHAR(20) NOT NULL DEFAULT 'queued',
    "provider_message_id" VARCHAR(255),
    "status_detail" VARCHAR(500),
    "body_storage_key" VARCHAR(500),
    "created" TIMESTAMPTZ(6) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updated" TIMESTAMPTZ(6) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "sent_at" TIMESTAMPTZ(6),

    CONSTRAINT "transactional_emails_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "notifications" (
    "id" UUID NOT NULL,
    "tenant_id" UUID NOT NULL,
    "user_id" UUID NOT NULL,
    "kind" VARCHAR(50) NOT NULL,
    "title" VARCHAR(200) NOT NULL,
    "body" TEXT NOT NULL,
    "read_at" TIMESTAMPTZ(6),
    "expires" TIMESTAMPTZ(6),
    "created" TIMESTAMPTZ(6) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "notifications_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "blobs" (
    "tenant_id" UUID NOT NULL,
    "sha256" BYTEA NOT NULL,
    "size_bytes" INTEGER NOT NULL,
    "content" BYTEA NOT NULL,
    "ref_count" INTEGER NOT NULL DEFAULT 0,
    "created" TIMESTAMPTZ(6) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "blobs_pkey" PRIMARY KEY ("tenant_id","sha256")
);

-- AlterTable
ALTER TABLE "attachments" ADD COLUMN "sha256" BYTEA,
ALTER COLUMN "content" DROP NOT NULL;

-- CreateIndex
CREATE INDEX "transactional_emails_tenant_recipient_created_idx" ON "transactional_emails"("tenant_id", "recipient_email", "created", "id");

-- CreateIndex
CREATE INDEX "transactional_emails_body_storage_key_idx" ON "transactional_emails"("body_storage_key");

-- CreateIndex
CREATE INDEX "notifications_tenant_user_created_idx" ON "notifications"("tenant_id", "user_id", "created", "id");

-- CreateIndex
CREATE INDEX "attachments_tenant_sha256_idx" ON "attachments"("tenant_id", "sha256");

-- AddForeignKey
ALTER TABLE "transactional_emails" ADD CONSTRAINT "transactional_emails_body_storage_key_fkey" FOREIGN KEY ("body_storage_key") REFERENCES "content_objects"("storage_key") ON DELETE SET NULL ON UPDATE CASCADE;

-- AddForeignKey (deferred: an attachment row is inserted first, on conflict do nothing, and its
-- blob's reference taken only when it was new; see src/db/upsert-blob.ts)
ALTER TABLE "attachments" ADD CONSTRAINT "attachments_tenant_id_sha256_fkey" FOREIGN KEY ("tenant_id", "sha256") REFERENCES "blobs"("tenant_id", "sha256") ON DELETE RESTRICT ON UPDATE CASCADE DEFERRABLE INITIALLY DEFERRED;

-- Below: what schema.prisma cannot express.

ALTER TABLE transactional_emails ADD CONSTRAINT transactional_emails_status_check
  CHECK (status IN ('queued', 'sent', 'delivered', 'bounced', 'failed'));
ALTER TABLE transactional_emails ADD CONSTRAINT transactional_emails_body_storage_key_tenant_check
  CHECK (starts_with(body_storage_key, tenant_id::text || '/'));
ALTER TABLE blobs ADD CONSTRAINT blobs_sha256_check CHECK (length(sha256) = 32);
ALTER TABLE blobs ADD CONSTRAINT blobs_size_bytes_check CHECK (size_bytes >= 0 AND size_bytes = length(content));
ALTER TABLE blobs ADD CONSTRAINT blobs_ref_count_check CHECK (ref_count >= 0);
-- An attachment holds its bytes in exactly one place: a blob (this version) or, written by a
-- replica of the previous version during a rolling deploy, inline.
ALTER TABLE attachments ADD CONSTRAINT attachments_content_or_sha256_check CHECK ((content IS NULL) <> (sha256 IS NULL));

-- Unread notifications of a user, the first part of ListNotifications and the unread count.
CREATE INDEX notifications_unread_idx ON notifications (tenant_id, user_id, created, id) WHERE read_at IS NULL;
-- Expired notifications, for the retention sweeper.
CREATE INDEX notifications_expires_idx ON notifications (expires) WHERE expires IS NOT NULL;

-- Deleting attachments (DeleteContent, retention and orphan sweeps delete them by the FK's
-- cascade, which runs no application code) releases their blobs: one statement-level trigger
-- decrements the reference counts and deletes blobs nothing references any more. Taking a
-- reference is the application's (src/db/upsert-blob.ts): it row-locks the blob, so a
-- concurrent release either sees the new count or has already deleted the row (the upsert
-- then inserts it again).
CREATE FUNCTION pm_attachments_release_blobs() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  UPDATE blobs b SET ref_count = b.ref_count - r.n
    FROM (SELECT tenant_id, sha256, count(*)::int AS n FROM gone WHERE sha256 IS NOT NULL GROUP BY tenant_id, sha256) r
   WHERE b.tenant_id = r.tenant_id AND b.sha256 = r.sha256;
  DELETE FROM blobs b USING (SELECT DISTINCT tenant_id, sha256 FROM gone WHERE sha256 IS NOT NULL) r
   WHERE b.tenant_id = r.tenant_id AND b.sha256 = r.sha256 AND b.ref_count <= 0;
  RETURN NULL;
END $$;
CREATE TRIGGER attachments_release_blobs AFTER DELETE ON attachments
  REFERENCING OLD TABLE AS gone FOR EACH STATEMENT EXECUTE FUNCTION pm_attachments_release_blobs();

-- Backfill: every stored attachment's bytes move into blobs (identical bytes once per tenant).
INSERT INTO blobs (tenant_id, sha256, size_bytes, content, ref_count)
SELECT tenant_id, digest, length(content), content, n
  FROM (SELECT DISTINCT ON (tenant_id, sha256(content)) tenant_id, sha256(content) AS digest, content,
               count(*) OVER (PARTITION BY tenant_id, sha256(content))::int AS n
          FROM attachments WHERE content IS NOT NULL) a;
UPDATE attachments SET sha256 = sha256(content), content = NULL WHERE content IS NOT NULL;
