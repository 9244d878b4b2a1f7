// End to end through the platform vs straight into the stores, in the same run (issue "The four
// tiers working as one", Measured). Printed, never asserted. Run: npm run bench -- end-to-end
// (or `pnpm --filter @penguinmails/bench run bench:e2e`).
//   1. messages/s through the outbound flow: sendMessage (metadata IngestMessage → content
//      PutContent → ref) via the SDK at concurrency 1, 8, 32; next to the same two inserts made
//      straight into PostgreSQL (content_objects in the content database, inbox_message_refs in
//      the metadata database) at the same concurrency (each pg pool capped at 8 connections: the
//      shared server allows 100 and other suites use it).
//   2. delay from IngestMessage's answer to the message counting in analytics (GetMailboxMetrics
//      polled every 10 ms): p50/p99; next to an insert straight into a ClickHouse (chDB) table
//      of the same shape until a count sees it.
import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { Pool } from 'pg';

/* eslint-disable @typescript-eslint/no-require-imports, @typescript-eslint/no-explicit-any */
const root = path.resolve(__dirname, '..', '..');
const { createPlatform, metadataV1 } = require(path.join(root, 'packages/sdk/dist')) as any;
const { startPlatform } = require(path.join(root, 'packages/testkit/dist')) as any;
const chdb = createRequire(path.join(root, 'services/analytics/package.json'))('chdb') as any;

const pct = (xs: number[], p: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor((p / 100) * xs.length))];
async function pool<T>(n: number, conc: number, fn: (i: number) => Promise<T>): Promise<void> {
  let next = 0;
  await Promise.all(Array.from({ length: conc }, async () => { while (next < n) await fn(next++); }));
}

async function main() {
  const platform = await startPlatform();
  const pm = createPlatform({ addresses: platform.addresses }, { env: {} });
  const tenantId = (await pm.metadata.createTenant({ name: 'bench e2e' })).tenant.id;
  const mb = (await pm.metadata.createEmailAccount({ tenantId, email: 'bench@e2e.test', provider: metadataV1.EmailProvider.EMAIL_PROVIDER_SMTP })).emailAccount;
  const meta = new Pool({ connectionString: platform.env.metadata.DATABASE_URL, max: 8 });
  const content = new Pool({ connectionString: platform.env.content.DATABASE_URL, max: 8 });
  const body = 'Hi, a short cold email body of a few hundred characters. '.repeat(6);
  const lines: string[] = [];
  const out = (l: string) => (console.log(l), lines.push(l));
  out(`bench e2e: ${os.cpus().length} cores, PostgreSQL ${new URL(platform.env.metadata.DATABASE_URL).host}, NATS ${platform.nats.url}, chDB`);
  out('concurrency  platform msg/s  direct pg msg/s  ratio (direct/platform)');
  for (const [conc, n] of [[1, 200], [8, 800], [32, 1600]] as const) {
    await pool(20, conc, () => pm.sendMessage({ tenantId, message: { emailAccountId: mb.id, fromEmail: mb.email, toEmail: 'w@e2e.test', subject: 'warm' }, body: { contentText: body } }));
    let t = Date.now();
    await pool(n, conc, () => pm.sendMessage({ tenantId, message: { emailAccountId: mb.id, fromEmail: mb.email, toEmail: 'lead@e2e.test', subject: 'Hello' }, body: { contentText: body } }));
    const platformRate = n / ((Date.now() - t) / 1000);
    t = Date.now();
    await pool(n, conc, async () => {
      const key = `${tenantId}/direct/${randomUUID()}`;
      await content.query('insert into content_objects (storage_key, tenant_id, content_text, raw_size_bytes) values ($1, $2, $3, $4)', [key, tenantId, body, body.length]);
      await meta.query("insert into inbox_message_refs (tenant_id, email_account_id, direction, from_email, to_email, subject, status, content_storage_key, content_state, client_key) values ($1, $2, 'outbound', $3, 'lead@e2e.test', 'Hello', 'sent', $4, 'stored', $5)", [tenantId, mb.id, mb.email, key, randomUUID()]);
    });
    const directRate = n / ((Date.now() - t) / 1000);
    out(`${String(conc).padStart(11)}  ${platformRate.toFixed(0).padStart(14)}  ${directRate.toFixed(0).padStart(15)}  ${(directRate / platformRate).toFixed(1)}x`);
  }

  // Delay to analytics: a fresh mailbox so its sent count is exactly ours.
  const mb2 = (await pm.metadata.createEmailAccount({ tenantId, email: 'delay@e2e.test', provider: metadataV1.EmailProvider.EMAIL_PROVIDER_SMTP })).emailAccount;
  const delays: number[] = [];
  for (let i = 1; i <= 60; i++) {
    await pm.sendMessage({ tenantId, message: { emailAccountId: mb2.id, fromEmail: mb2.email, toEmail: 'lead@e2e.test', subject: 'Hello' }, body: { contentText: body } });
    const t = Date.now();
    for (;;) {
      const sent = Number((await pm.analytics.getMailboxMetrics({ tenantId, emailAccountId: mb2.id })).report?.totals?.sent ?? 0);
      if (sent >= i) break;
      await new Promise((r) => setTimeout(r, 10));
    }
    delays.push(Date.now() - t);
  }
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bench-chdb-'));
  const session = new chdb.Session(dir);
  session.query('create table ev (event_id UUID, tenant_id UUID, event_type String, occurred_at DateTime64(3)) engine = ReplacingMergeTree order by (tenant_id, event_id)');
  const direct: number[] = [];
  for (let i = 1; i <= 60; i++) {
    const t = performance.now();
    session.query(`insert into ev values ('${randomUUID()}', '${tenantId}', 'sent', now64(3))`);
    for (;;) if (Number(session.query('select count() from ev final', 'CSV').trim()) >= i) break;
    direct.push(performance.now() - t);
  }
  session.cleanup?.();
  fs.rmSync(dir, { recursive: true, force: true });
  out(`delay to analytics (IngestMessage answered → GetMailboxMetrics counts it, 60 messages): p50 ${pct(delays, 50)} ms, p99 ${pct(delays, 99)} ms`);
  out(`direct ClickHouse (chDB) insert → count sees it: p50 ${pct(direct, 50).toFixed(1)} ms, p99 ${pct(direct, 99).toFixed(1)} ms; ratio p50 ${(pct(delays, 50) / pct(direct, 50)).toFixed(0)}x`);
  pm.close();
  await meta.end();
  await content.end();
  await platform.stop();
}

main().then(() => process.exit(0), (err) => { console.error(err); process.exit(1); });
