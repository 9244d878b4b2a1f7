import type { Pool } from 'pg';

/**
 * `length` bytes of an attachment's stored bytes from `offset` (0-based), from its blob (or
 * inline for a row a previous version wrote), or undefined when the attachment is gone.
 * DownloadAttachment reads a large file slice by slice, so neither the service nor the driver
 * ever holds it whole: `substring` of an uncompressed (external) value reads only the TOAST
 * chunks of the slice; a compressed one is decompressed up to the slice's end.
 * A slice travels as hex text (the driver's format: ~2x its size, parsed into a Buffer), so the
 * slice size bounds that too: ~5 bytes of transient memory per byte of a slice, not of the file.
 */
export async function readAttachmentSlice(pool: Pool, tenantId: string, id: string, offset: number, length: number): Promise<Buffer | undefined> {
  const { rows } = await pool.query<{ data: Buffer }>({
    // Unnamed, as get-content.ts: a generic plan cached on a few rows could read the tenant's
    // (tenant_id, sha256) index instead of the primary key.
    text: `select case when a.sha256 is null then substring(a.content from $3::int + 1 for $4::int)
                       else (select substring(b.content from $3::int + 1 for $4::int) from blobs b
                              where b.tenant_id = a.tenant_id and b.sha256 = a.sha256) end as data
             from attachments a
            where a.id = $1 and a.tenant_id = $2`,
    values: [id, tenantId, offset, length],
  });
  return rows[0]?.data ?? undefined;
}
