-- Issue 11: usage per tenant kept by the writes themselves (tenant_usage), retention by policy
-- (retention_policies, content_objects.policy_exempt) and the index GetUsage counts expiring
-- objects on. Drafted with `prisma migrate diff` from the previous schema to this one, then the
-- objects Prisma cannot express appended (listed in ../../migration-only.json), then the backfill.
-- Never edit once applied: add a new migration folder instead.

-- AlterTable
ALTER TABLE "content_objects" ADD COLUMN "policy_exempt" BOOLEAN NOT NULL DEFAULT false;

-- CreateTable
CREATE TABLE "tenant_usage" (
    "tenant_id" UUID NOT NULL,
    "shard" SMALLINT NOT NULL,
    "body_count" BIGINT NOT NULL DEFAULT 0,
    "body_bytes" BIGINT NOT NULL DEFAULT 0,
    "transactional_body_count" BIGINT NOT NULL DEFAULT 0,
    "transactional_body_bytes" BIGINT NOT NULL DEFAULT 0,
    "attachment_count" BIGINT NOT NULL DEFAULT 0,
    "attachment_bytes" BIGINT NOT NULL DEFAULT 0,
    "blob_count" BIGINT NOT NULL DEFAULT 0,
    "blob_bytes" BIGINT NOT NULL DEFAULT 0,
    "transactional_email_count" BIGINT NOT NULL DEFAULT 0,

    CONSTRAINT "tenant_usage_pkey" PRIMARY KEY ("tenant_id","shard")
);

-- CreateTable
CREATE TABLE "retention_policies" (
    "tenant_id" UUID NOT NULL,
    "max_age_days" INTEGER,
    "max_total_bytes" BIGINT,
    "updated" TIMESTAMPTZ(6) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "retention_policies_pkey" PRIMARY KEY ("tenant_id")
);

-- Below: what schema.prisma cannot express.

ALTER TABLE retention_policies ADD CONSTRAINT retention_policies_max_age_days_check CHECK (max_age_days BETWEEN 0 AND 36500);
ALTER TABLE retention_policies ADD CONSTRAINT retention_policies_max_total_bytes_check CHECK (max_total_bytes >= 0);

-- GetUsage's "expires in the next day/week/month": an index-only range count per tenant
-- (partial: objects kept forever are never counted by expiry).
CREATE INDEX content_objects_tenant_expires_idx ON content_objects (tenant_id, expires) WHERE expires IS NOT NULL;

-- The logical size of a body: UTF-8 bytes of text + html + the headers' JSON text. octet_length
-- of a text reads the TOAST pointer's raw size (no decompression); headers are small.
CREATE FUNCTION pm_body_bytes(t text, h text, hd jsonb) RETURNS bigint LANGUAGE sql IMMUTABLE PARALLEL SAFE AS
$$ SELECT coalesce(octet_length(t), 0)::bigint + coalesce(octet_length(h), 0) + coalesce(octet_length(hd::text), 0) $$;

-- Usage counters. Statement-level triggers with transition tables (as attachments_release_blobs)
-- add the rows a statement inserted and subtract those it deleted, cascades and sweeps included,
-- in the writing transaction: one upsert per statement and tenant, not one per row.
-- Hot rows: a tenant's counters are split in 16 shards picked by the backend's pid, so two
-- concurrent writers of one tenant (on two pooled connections) almost always update different
-- rows instead of queueing on one row lock until commit; GetUsage sums at most 16 rows. Rows
-- are upserted in tenant order, so two multi-tenant statements (sweeper batches) that meet on
-- a shard lock in the same order and cannot deadlock on it.
CREATE FUNCTION pm_usage_content_objects() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE s int := CASE TG_OP WHEN 'INSERT' THEN 1 ELSE -1 END;
BEGIN
  INSERT INTO tenant_usage AS u (tenant_id, shard, body_count, body_bytes, transactional_body_count, transactional_body_bytes)
  SELECT tenant_id, (pg_backend_pid() % 16)::smallint, s * count(*), s * sum(b),
         s * count(*) FILTER (WHERE tx), s * coalesce(sum(b) FILTER (WHERE tx), 0)
    FROM (SELECT tenant_id, pm_body_bytes(content_text, content_html, headers) AS b,
                 starts_with(storage_key, tenant_id::text || '/transactional/') AS tx FROM delta) d
   GROUP BY tenant_id ORDER BY tenant_id
  ON CONFLICT (tenant_id, shard) DO UPDATE SET
    body_count = u.body_count + excluded.body_count, body_bytes = u.body_bytes + excluded.body_bytes,
    transactional_body_count = u.transactional_body_count + excluded.transactional_body_count,
    transactional_body_bytes = u.transactional_body_bytes + excluded.transactional_body_bytes;
  RETURN NULL;
END $$;
CREATE TRIGGER content_objects_usage_insert AFTER INSERT ON content_objects
  REFERENCING NEW TABLE AS delta FOR EACH STATEMENT EXECUTE FUNCTION pm_usage_content_objects();
CREATE TRIGGER content_objects_usage_delete AFTER DELETE ON content_objects
  REFERENCING OLD TABLE AS delta FOR EACH STATEMENT EXECUTE FUNCTION pm_usage_content_objects();

CREATE FUNCTION pm_usage_attachments() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE s int := CASE TG_OP WHEN 'INSERT' THEN 1 ELSE -1 END;
BEGIN
  INSERT INTO tenant_usage AS u (tenant_id, shard, attachment_count, attachment_bytes)
  SELECT tenant_id, (pg_backend_pid() % 16)::smallint, s * count(*), s * sum(size_bytes)
    FROM delta GROUP BY tenant_id ORDER BY tenant_id
  ON CONFLICT (tenant_id, shard) DO UPDATE SET
    attachment_count = u.attachment_count + excluded.attachment_count, attachment_bytes = u.attachment_bytes + excluded.attachment_bytes;
  RETURN NULL;
END $$;
CREATE TRIGGER attachments_usage_insert AFTER INSERT ON attachments
  REFERENCING NEW TABLE AS delta FOR EACH STATEMENT EXECUTE FUNCTION pm_usage_attachments();
CREATE TRIGGER attachments_usage_delete AFTER DELETE ON attachments
  REFERENCING OLD TABLE AS delta FOR EACH STATEMENT EXECUTE FUNCTION pm_usage_attachments();

-- Blobs: inserted by upsert-blob's `on conflict do update` (only really inserted rows are in
-- the NEW TABLE), deleted by attachments_release_blobs when their last reference goes.
CREATE FUNCTION pm_usage_blobs() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE s int := CASE TG_OP WHEN 'INSERT' THEN 1 ELSE -1 END;
BEGIN
  INSERT INTO tenant_usage AS u (tenant_id, shard, blob_count, blob_bytes)
  SELECT tenant_id, (pg_backend_pid() % 16)::smallint, s * count(*), s * sum(size_bytes)
    FROM delta GROUP BY tenant_id ORDER BY tenant_id
  ON CONFLICT (tenant_id, shard) DO UPDATE SET
    blob_count = u.blob_count + excluded.blob_count, blob_bytes = u.blob_bytes + excluded.blob_bytes;
  RETURN NULL;
END $$;
CREATE TRIGGER blobs_usage_insert AFTER INSERT ON blobs
  REFERENCING NEW TABLE AS delta FOR EACH STATEMENT EXECUTE FUNCTION pm_usage_blobs();
CREATE TRIGGER blobs_usage_delete AFTER DELETE ON blobs
  REFERENCING OLD TABLE AS delta FOR EACH STATEMENT EXECUTE FUNCTION pm_usage_blobs();

CREATE FUNCTION pm_usage_transactional_emails() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE s int := CASE TG_OP WHEN 'INSERT' THEN 1 ELSE -1 END;
BEGIN
  INSERT INTO tenant_usage AS u (tenant_id, shard, transactional_email_count)
  SELECT tenant_id, (pg_backend_pid() % 16)::smallint, s * count(*)
    FROM delta GROUP BY tenant_id ORDER BY tenant_id
  ON CONFLICT (tenant_id, shard) DO UPDATE SET transactional_email_count = u.transactional_email_count + excluded.transactional_email_count;
  RETURN NULL;
END $$;
CREATE TRIGGER transactional_emails_usage_insert AFTER INSERT ON transactional_emails
  REFERENCING NEW TABLE AS delta FOR EACH STATEMENT EXECUTE FUNCTION pm_usage_transactional_emails();
CREATE TRIGGER transactional_emails_usage_delete AFTER DELETE ON transactional_emails
  REFERENCING OLD TABLE AS delta FOR EACH STATEMENT EXECUTE FUNCTION pm_usage_transactional_emails();

-- Backfill: what is stored now, in shard 0 (the triggers above see only later writes; this
-- migration runs in one transaction under the migration lock, and writers of the previous
-- version that commit between its snapshot and its end are the rolling deploy's known gap).
INSERT INTO tenant_usage (tenant_id, shard, body_count, body_bytes, transactional_body_count, transactional_body_bytes,
                          attachment_count, attachment_bytes, blob_count, blob_bytes, transactional_email_count)
SELECT tenant_id, 0, sum(bc), sum(bb), sum(tc), sum(tb), sum(ac), sum(ab), sum(lc), sum(lb), sum(ec)
  FROM (SELECT tenant_id, count(*) AS bc, sum(pm_body_bytes(content_text, content_html, headers)) AS bb,
               count(*) FILTER (WHERE starts_with(storage_key, tenant_id::text || '/transactional/')) AS tc,
               coalesce(sum(pm_body_bytes(content_text, content_html, headers)) FILTER (WHERE starts_with(storage_key, tenant_id::text || '/transactional/')), 0) AS tb,
               0 AS ac, 0 AS ab, 0 AS lc, 0 AS lb, 0 AS ec
          FROM content_objects GROUP BY tenant_id
        UNION ALL SELECT tenant_id, 0, 0, 0, 0, count(*), sum(size_bytes), 0, 0, 0 FROM attachments GROUP BY tenant_id
        UNION ALL SELECT tenant_id, 0, 0, 0, 0, 0, 0, count(*), sum(size_bytes), 0 FROM blobs GROUP BY tenant_id
        UNION ALL SELECT tenant_id, 0, 0, 0, 0, 0, 0, 0, 0, count(*) FROM transactional_emails GROUP BY tenant_id) t
 GROUP BY tenant_id;
