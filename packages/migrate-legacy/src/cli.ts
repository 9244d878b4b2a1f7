import { Client } from 'pg';
import { createPlatform } from '@penguinmails/sdk';
import { runMigration } from './migrate';
import { verifyMigration } from './verify';
import { applyLegacySchema, generateLegacy } from './generate';

const USAGE = `usage: migrate-legacy <command> [options]
  schema                       apply legacy/*.sql to LEGACY_DATABASE_URL
  generate --rows N [--tenants T] [--seed S]   fill the legacy tables (bench/'s generator)
  run [--batch N] [--throttle rows/s] [--rejects file.jsonl] [--max-body-bytes B]
  verify                       counts per tenant + per-row comparison; exit 0 only when they agree
  rejects                      print migrate_rejects as JSON lines
settings: LEGACY_DATABASE_URL; the SDK's PM_METADATA_URL, PM_CONTENT_URL, PM_ANALYTICS_URL, PM_TOKEN, ...`;

function flags(args: string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (let i = 0; i < args.length; i++) if (args[i].startsWith('--')) out[args[i].slice(2)] = args[i + 1]?.startsWith('--') || args[i + 1] === undefined ? 'true' : args[++i];
  return out;
}

export async function main(argv: string[]): Promise<number> {
  const [cmd, ...rest] = argv;
  const f = flags(rest);
  const url = process.env.LEGACY_DATABASE_URL;
  if (!cmd || cmd === 'help' || cmd === '--help') { console.log(USAGE); return cmd ? 0 : 2; }
  if (!url) { console.error('error: LEGACY_DATABASE_URL is not set'); return 2; }
  if (cmd === 'schema') { console.log(`applied: ${(await applyLegacySchema(url)).join(', ') || 'nothing'}`); return 0; }
  const db = new Client({ connectionString: url });
  await db.connect();
  const pm = createPlatform();
  try {
    if (cmd === 'generate') {
      const r = await generateLegacy(db, { rows: Number(f.rows ?? 1000), tenants: f.tenants ? Number(f.tenants) : undefined, seed: f.seed ? Number(f.seed) : undefined });
      console.log(`generated ${r.emails} emails, ${r.attachments} attachments`);
      return 0;
    }
    if (cmd === 'run') {
      const ac = new AbortController();
      process.once('SIGINT', () => ac.abort());
      process.once('SIGTERM', () => ac.abort());
      const r = await runMigration(db, pm, {
        batchSize: f.batch ? Number(f.batch) : undefined, throttle: f.throttle ? Number(f.throttle) : undefined,
        rejectsFile: f.rejects ?? 'migrate-legacy.rejects.jsonl', maxBodyBytes: f['max-body-bytes'] ? Number(f['max-body-bytes']) : undefined,
        progress: (l) => process.stderr.write(l + '\n'), signal: ac.signal,
      });
      console.log(`done: ${r.migrated} migrated, ${r.rejected} rejected in ${r.batches} batches, ${r.seconds.toFixed(1)} s`);
      return 0;
    }
    if (cmd === 'verify') {
      const r = await verifyMigration(db, pm, { print: (l) => console.log(l) });
      for (const n of r.notes) console.log(`note: ${n}`);
      for (const t of r.perTenant) console.log(`tenant ${t.tenant}: legacy ${t.legacy}, refs ${t.refs}, rejected ${t.rejected}`);
      console.log(r.ok ? `verify: OK (${r.checked} rows compared, ${r.rejected} rejected)` : `verify: ${r.differences.length} differences`);
      return r.ok ? 0 : 1;
    }
    if (cmd === 'rejects') {
      for (const r of (await db.query('select legacy_id, reason from migrate_rejects order by at, legacy_id')).rows) console.log(JSON.stringify(r));
      return 0;
    }
    console.error(`error: unknown command ${cmd}\n${USAGE}`);
    return 2;
  } finally {
    pm.close();
    await db.end();
  }
}
