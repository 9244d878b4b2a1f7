import { resolve } from 'node:path';
import type { Client } from 'pg';
import { migratePostgres } from '@penguinmails/service-kit';

export const METADATA_MIGRATIONS = resolve(__dirname, '../../../services/metadata/prisma/migrations');

/** The metadata service's own migrations, exactly as the service applies them. */
export async function applyMetadataMigrations(databaseUrl: string): Promise<string[]> {
  const { applied } = await migratePostgres({ databaseUrl, migrationsDir: METADATA_MIGRATIONS });
  return applied;
}

/**
 * The legacy table of the seed's "current system": every column of inbox_message_refs plus the
 * heavy content (content_text, content_html, headers jsonb, raw_size_bytes).
 *
 * Built from the catalog of inbox_message_refs rather than written by hand, so the comparison
 * stays fair when the service's migrations change: same columns, defaults, check constraints,
 * every index (partial ones included) and every foreign key (the self reference on
 * parent_message_id re-pointed at emails). Only triggers are not copied (they fire on UPDATE,
 * which the benchmark does not time).
 */
export async function createLegacyEmails(db: Client): Promise<void> {
  await db.query('create table emails (like inbox_message_refs including all)');
  await db.query(`alter table emails
    add column content_text text,
    add column content_html text,
    add column headers jsonb not null default '{}',
    add column raw_size_bytes integer not null default 0`);
  const fks = await db.query<{ def: string }>(
    `select pg_get_constraintdef(oid) as def from pg_constraint
      where conrelid = 'inbox_message_refs'::regclass and contype = 'f' order by conname`,
  );
  for (const { def } of fks.rows) {
    const repointed = def.replace(/REFERENCES (public\.)?inbox_message_refs\(/, 'REFERENCES emails(');
    await db.query(`alter table emails add ${repointed}`);
  }
  // LIKE names the copies after their columns (and suffixes clashes with 1, 2...): give each the
  // name of its inbox_message_refs twin, so plans of both tables read alike.
  const pairs = await db.query<{ copy: string; twin: string }>(`
    select e.indexname as copy, r.indexname as twin
      from pg_indexes e join pg_indexes r
        on r.tablename = 'inbox_message_refs'
       and regexp_replace(r.indexdef, '^.* USING ', '') = regexp_replace(e.indexdef, '^.* USING ', '')
     where e.tablename = 'emails'`);
  for (const p of pairs.rows) {
    const name = p.twin.replace(/^inbox_message_refs/, 'emails');
    if (name !== p.copy) await db.query(`alter index "${p.copy}" rename to "${name}"`);
  }
}

/** Index names of a table, to show both have the same set. */
export async function indexDefs(db: Client, table: string): Promise<string[]> {
  const r = await db.query<{ def: string }>(
    `select regexp_replace(indexdef, '^.* USING ', '') as def from pg_indexes where tablename = $1 order by 1`,
    [table],
  );
  return r.rows.map((x) => x.def);
}
