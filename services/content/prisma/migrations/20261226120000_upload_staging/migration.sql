-- UploadAttachment's chunks, staged while the stream is in progress (issue 11: "a 25 MB
-- attachment never sits whole in memory"). The service writes each ~1 MiB group of chunks here
-- as it arrives and, once the stream is complete and its SHA-256 matches, assembles the blob in
-- PostgreSQL (`string_agg(data, '' order by seq)`, src/db/insert-blob-from-parts.ts) and deletes
-- the parts in the transaction that adds the attachment. A broken stream deletes its parts; the
-- retention sweeper deletes parts an upload left behind (a crashed replica) after
-- CONTENT_UPLOAD_STALE_MS.
-- Chosen by bench/src/content-upload-staging.ts (25 MiB in 1 MiB pieces, 2026-11-26): whole file
-- in Node 429 ms / 75 MB of heap, this table 446 ms / 7 MB, large objects (lo_put) 647 ms and
-- twice the WAL, `content = content || piece` 3.9 s and 14x the WAL.
-- UNLOGGED: the bytes are written again into blobs (and its WAL) at the end; parts lost in a
-- crash only fail uploads that were in progress anyway. STORAGE EXTERNAL: no compression of
-- bytes that are compressed (or not) once more in blobs.
CREATE UNLOGGED TABLE "attachment_upload_parts" (
    "upload_id" UUID NOT NULL,
    "seq" INTEGER NOT NULL,
    "tenant_id" UUID NOT NULL,
    "data" BYTEA NOT NULL,
    "created" TIMESTAMPTZ(6) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "attachment_upload_parts_pkey" PRIMARY KEY ("upload_id","seq")
);
ALTER TABLE "attachment_upload_parts" ALTER COLUMN "data" SET STORAGE EXTERNAL;

-- The sweeper's cleanup of stale parts.
CREATE INDEX "attachment_upload_parts_created_idx" ON "attachment_upload_parts"("created");
