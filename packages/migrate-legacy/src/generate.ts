import { resolve } from 'node:path';
import type { Client } from 'pg';
import { migratePostgres } from '@penguinmails/service-kit';
import { generateDataset, messageStrings, NS } from '../../../bench/src/lib/dataset';
import { makeBodies } from '../../../bench/src/lib/bodies';
import { uuidFor } from '../../../bench/src/lib/prng';

/** legacy/: the legacy shape as plain SQL migrations (001_emails.sql, 002_application_indexes.sql). */
export const LEGACY_MIGRATIONS = resolve(__dirname, '../legacy');

export async function applyLegacySchema(databaseUrl: string): Promise<string[]> {
  const { applied } = await migratePostgres({ databaseUrl, migrationsDir: LEGACY_MIGRATIONS });
  return applied;
}

/** bench/'s bodies are escaped for COPY's text format; parameters want the real text. */
const uncopy = (s: string) => s.replace(/\\(n|\\)/g, (_, c: string) => (c === 'n' ? '\n' : '\\'));

export interface GenerateOptions {
  rows: number;
  seed?: number;
  tenants?: number;
  /** Share of emails that get 1-2 small attachments (default 0.05). */
  attachmentShare?: number;
}

/**
 * Fills a legacy database (schema applied) with bench/'s generated world: tenants of Zipf
 * sizes, mailboxes, campaigns with 3-5 steps, leads, and six months of cold-outreach threads
 * (steps threaded onto each other, bounces, auto-replies, replies), each email with a 5-50 KB
 * HTML body, its text version and 1-3 KB of headers. Deterministic for a seed.
 */
export async function generateLegacy(db: Client, opts: GenerateOptions): Promise<{ emails: number; attachments: number }> {
  const ds = generateDataset({ rows: opts.rows, seed: opts.seed, tenants: opts.tenants ?? 8 });
  const insert = async (table: string, cols: string[], rows: unknown[][]) => {
    for (let i = 0; i < rows.length; i += 200) {
      const chunk = rows.slice(i, i + 200);
      const params: unknown[] = [];
      const values = chunk.map((r) => `(${r.map((v) => (params.push(v), `$${params.length}`)).join(',')})`);
      await db.query(`insert into ${table} (${cols.join(',')}) values ${values.join(',')}`, params);
    }
  };
  await insert('tenants', ['id', 'name'], ds.tenants.map((t) => [t.id, t.name]));
  await insert('email_accounts', ['id', 'tenant_id', 'email', 'display_name', 'provider'], ds.mailboxes.map((m) => [m.id, ds.tenants[m.tenant].id, m.email, m.name, m.provider]));
  await insert('campaigns', ['id', 'tenant_id', 'name'], ds.campaigns.map((c) => [c.id, ds.tenants[c.tenant].id, c.name]));
  await insert('sequence_steps', ['id', 'campaign_id', 'step_number', 'delay_minutes'], ds.steps.map((s) => [s.id, ds.campaigns[s.campaign].id, s.number, s.delayDays * 1440]));
  await insert('leads', ['id', 'tenant_id', 'email', 'first_name', 'last_name', 'company'], ds.leads.map((l, i) => [uuidFor(NS.lead, i), ds.tenants[l.tenant].id, l.email, l.first, l.last, l.company]));

  const share = opts.attachmentShare ?? 0.05;
  let attachments = 0;
  const cols = ['id', 'tenant_id', 'email_account_id', 'campaign_id', 'lead_id', 'sequence_step_id', 'parent_message_id', 'direction', 'message_type', 'from_email', 'to_email', 'subject', 'status', 'provider_message_id', 'client_key', 'bounce_type', 'processed', 'created', 'updated', 'content_text', 'content_html', 'headers', 'raw_size_bytes'];
  for (let start = 0; start < ds.rows; start += 50) {
    const rows: unknown[][] = [];
    const atts: unknown[][] = [];
    for (let i = start; i < Math.min(ds.rows, start + 50); i++) {
      const m = messageStrings(ds, i);
      const b = makeBodies(ds, i, m);
      const created = new Date(ds.created[i]);
      const processed = Number.isNaN(ds.processed[i]) ? null : new Date(ds.processed[i]);
      rows.push([m.id, m.tenantId, m.mailboxId, m.campaignId, m.leadId, m.stepId, m.parentId, m.direction, m.messageType, m.from, m.to, m.subject, m.status, m.providerMessageId, m.clientKey, m.messageType === 'bounce' ? 'hard' : null, processed, created, processed ?? created, uncopy(b.text), uncopy(b.html), uncopy(b.headers), b.rawSize]);
      // Attachments on a deterministic share of rows (by index hash).
      if (((i * 2654435761) >>> 0) / 2 ** 32 < share) {
        const n = 1 + (i % 2);
        for (let k = 0; k < n; k++) {
          const content = Buffer.alloc(500 + ((i * 31 + k * 7) % 4000), `${m.id}:${k}:`);
          atts.push([uuidFor(NS.message + 100, i * 4 + k), m.id, k === 0 ? `proposal-${i}.pdf` : `logo-${i}.png`, k === 0 ? 'application/pdf' : 'image/png', k === 0 ? 'attachment' : 'inline', content, created]);
        }
      }
    }
    await insert('emails', cols, rows);
    if (atts.length) await insert('email_attachments', ['id', 'email_id', 'filename', 'mime_type', 'disposition', 'content', 'created'], atts);
    attachments += atts.length;
  }
  return { emails: ds.rows, attachments };
}
