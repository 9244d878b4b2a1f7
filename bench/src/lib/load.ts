import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { Client } from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import { makeBodies } from './bodies';
import { END_MS, leadId, messageStrings, type Dataset } from './dataset';

/** COPY text format: `\N` is null; our generated strings contain no tab, newline or backslash. */
const v = (s: string | null | undefined): string => (s === null || s === undefined ? '\\N' : s);
const ts = (ms: number): string => (Number.isNaN(ms) ? '\\N' : new Date(ms).toISOString());

async function copyRows(db: Client, sql: string, rows: Iterable<string>): Promise<void> {
  // Lines are batched into ~256 KB chunks: one stream write per line is the bottleneck otherwise.
  function* chunks(): Generator<string> {
    let buf = '';
    for (const line of rows) {
      buf += line;
      if (buf.length >= 262_144) {
        yield buf;
        buf = '';
      }
    }
    if (buf) yield buf;
  }
  await pipeline(Readable.from(chunks()), db.query(copyFrom(sql)));
}

/** Tenants, mailboxes, campaigns with their steps, and leads: the rows the refs point at. */
export async function loadParents(db: Client, ds: Dataset): Promise<void> {
  const created = new Date(END_MS - 200 * 86_400_000).toISOString();
  await copyRows(db, 'copy tenants (id, name, created, updated) from stdin', ds.tenants.map((t) => `${t.id}\t${t.name}\t${created}\t${created}\n`));
  await copyRows(
    db,
    'copy email_accounts (id, tenant_id, email, display_name, provider, created, updated) from stdin',
    ds.mailboxes.map((m) => `${m.id}\t${ds.tenants[m.tenant].id}\t${m.email}\t${m.name}\t${m.provider}\t${created}\t${created}\n`),
  );
  await copyRows(
    db,
    'copy campaigns (id, tenant_id, name, status, created, updated) from stdin',
    ds.campaigns.map((c) => `${c.id}\t${ds.tenants[c.tenant].id}\t${c.name}\tactive\t${created}\t${created}\n`),
  );
  await copyRows(
    db,
    'copy campaign_sequence_steps (id, tenant_id, campaign_id, step_number, delay_minutes, subject_template_key, body_template_key, created, updated) from stdin',
    ds.steps.map((s) => {
      const c = ds.campaigns[s.campaign];
      return `${s.id}\t${ds.tenants[c.tenant].id}\t${c.id}\t${s.number}\t${s.delayDays * 1440}\ttemplates/${c.id}/step${s.number}/subject\ttemplates/${c.id}/step${s.number}/body.html\t${created}\t${created}\n`;
    }),
  );
  function* leads(): Generator<string> {
    for (let i = 0; i < ds.leads.length; i++) {
      const l = ds.leads[i];
      yield `${leadId(i)}\t${ds.tenants[l.tenant].id}\t${l.email}\t${l.first}\t${l.last}\t${l.company}\t${created}\t${created}\n`;
    }
  }
  await copyRows(db, 'copy leads (id, tenant_id, email, first_name, last_name, company, created, updated) from stdin', leads());
}

const REF_COLUMNS =
  'id, tenant_id, email_account_id, campaign_id, lead_id, sequence_step_id, parent_message_id, direction, message_type, from_email, to_email, subject, status, content_storage_key, provider_message_id, client_key, processed, created, updated';

export interface LoadStats {
  rows: number;
  ms: number;
  /** Bytes sent through COPY (what the client had to produce and ship). */
  bytes: number;
}

/**
 * COPY all messages of the data set, in time order, into `table`; with `bodies` also the
 * legacy content columns. Runs through the table's indexes, constraints and foreign keys, as
 * a real writer would.
 */
export async function loadMessages(
  url: string,
  ds: Dataset,
  table: 'inbox_message_refs' | 'emails',
  opts: { bodies: boolean; streams: number; onProgress?: (done: number) => void },
): Promise<LoadStats> {
  let bytes = 0;
  let done = 0;
  // Stream k gets the threads whose root index is k mod streams: a parent is always in the same
  // stream (and earlier in it), so each COPY's foreign keys hold without the others committed.
  function* lines(stream: number): Generator<string> {
    for (let i = 0; i < ds.rows; i++) {
      if (ds.root[i] % opts.streams !== stream) continue;
      const m = messageStrings(ds, i);
      const processed = ds.processed[i];
      const updated = Number.isNaN(processed) ? ds.created[i] : processed;
      let line = `${m.id}\t${m.tenantId}\t${m.mailboxId}\t${v(m.campaignId)}\t${v(m.leadId)}\t${v(m.stepId)}\t${v(m.parentId)}\t${m.direction}\t${m.messageType}\t${m.from}\t${m.to}\t${m.subject}\t${m.status}\t${m.contentStorageKey}\t${m.providerMessageId}\t${v(m.clientKey)}\t${ts(processed)}\t${ts(ds.created[i])}\t${ts(updated)}`;
      if (opts.bodies) {
        const b = makeBodies(ds, i, m);
        line += `\t${b.text}\t${b.html}\t${b.headers}\t${b.rawSize}`;
      }
      line += '\n';
      bytes += line.length;
      if (opts.onProgress && ++done % 20_000 === 0) opts.onProgress(done);
      yield line;
    }
  }
  const cols = opts.bodies ? `${REF_COLUMNS}, content_text, content_html, headers, raw_size_bytes` : REF_COLUMNS;
  const clients = Array.from({ length: opts.streams }, () => new Client({ connectionString: url, application_name: `bench-load-${table}` }));
  try {
    await Promise.all(clients.map((c) => c.connect()));
    const started = performance.now();
    await Promise.all(clients.map((c, k) => copyRows(c, `copy ${table} (${cols}) from stdin`, lines(k))));
    return { rows: ds.rows, ms: performance.now() - started, bytes };
  } finally {
    await Promise.all(clients.map((c) => c.end().catch(() => undefined)));
  }
}
