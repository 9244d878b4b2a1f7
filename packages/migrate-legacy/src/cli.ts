import { Client } from 'pg';
import { createPlatform } from '@penguinmails/sdk';
import { catchUp, listenForErrors, runMigration, type RunOptions } from './migrate';
import { archive, readState, restore, rollback, switchOver } from './phases';
import { verifyMigration } from './verify';
import { applyLegacySchema, generateLegacy } from './generate';

const USAGE = `usage: migrate-legacy <command> [options]
  schema                       apply legacy/*.sql to LEGACY_DATABASE_URL
  generate --rows N [--tenants T] [--seed S]   fill the legacy tables (bench/'s generator)
  run [--batch N] [--in-flight B] [--throttle rows/s] [--adaptive F] [--concurrency C] [--rejects file.jsonl] [--max-body-bytes B] [--no-catch-up]
      [--attempts 8] [--call-deadline-ms 120000] [--allow-recount]
                               keyset pass from the checkpoint, then the catch-up; a bar on a terminal, lines otherwise
                               (--in-flight: batches written at once, default 3; --adaptive 0.2: back off while a probe
                               of the legacy table is more than 20% slower than before the run; --throttle is then the ceiling;
                               --attempts / --call-deadline-ms: each write to a tier is repeated on UNAVAILABLE, DEADLINE_EXCEEDED,
                               RESOURCE_EXHAUSTED or ABORTED, with backoff, each attempt given that deadline;
                               refused while the legacy rows are older than the analytics tier's ANALYTICS_RAW_TTL_DAYS,
                               where a resent event would count twice: raise it or pass --allow-recount)
  catch-up [same options] [--full]   only the catch-up pass (rows inserted behind the checkpoint or updated since
                               migrated, from the first run's start; --full: every row)
  verify                       counts per tenant + per-row comparison; exit 0 only when they agree
  switch                       catch-up + verify; only when they agree: migrate_state -> switched (tiers authoritative)
  rollback                     copies tier-only writes since the switch back into emails; migrate_state -> legacy
  archive                      only when verify agrees: emails + email_attachments -> schema legacy_archive (dated names)
  restore                      the archived tables back (migrate_state -> switched)
  state                        migrate_state as JSON
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
  const db = listenForErrors(new Client({ connectionString: url }));
  await db.connect();
  const pm = createPlatform();
  try {
    if (cmd === 'generate') {
      const r = await generateLegacy(db, { rows: Number(f.rows ?? 1000), tenants: f.tenants ? Number(f.tenants) : undefined, seed: f.seed ? Number(f.seed) : undefined });
      console.log(`generated ${r.emails} emails, ${r.attachments} attachments`);
      return 0;
    }
    const runOpts = (): RunOptions => {
      const ac = new AbortController();
      process.once('SIGINT', () => ac.abort());
      process.once('SIGTERM', () => ac.abort());
      const tty = Boolean(process.stderr.isTTY);
      return {
        batchSize: f.batch ? Number(f.batch) : undefined, throttle: f.throttle ? Number(f.throttle) : undefined,
        concurrency: f.concurrency ? Number(f.concurrency) : undefined, inFlight: f['in-flight'] ? Number(f['in-flight']) : undefined,
        adaptive: f.adaptive ? Number(f.adaptive) : undefined, catchUp: f['no-catch-up'] !== 'true',
        rejectsFile: f.rejects ?? 'migrate-legacy.rejects.jsonl', maxBodyBytes: f['max-body-bytes'] ? Number(f['max-body-bytes']) : undefined,
        attempts: f.attempts ? Number(f.attempts) : undefined, callDeadlineMs: f['call-deadline-ms'] ? Number(f['call-deadline-ms']) : undefined,
        allowRecount: f['allow-recount'] === 'true',
        progress: (l) => process.stderr.write(tty ? l : l + '\n'), tty, signal: ac.signal,
      };
    };
    if (cmd === 'run') {
      const r = await runMigration(db, pm, runOpts());
      console.log(`done: ${r.migrated} migrated, ${r.rejected} rejected in ${r.batches} batches, ${r.seconds.toFixed(1)} s`);
      return 0;
    }
    if (cmd === 'catch-up') {
      const r = await catchUp(db, pm, { ...runOpts(), full: f.full === 'true' });
      console.log(`catch-up: ${r.migrated} migrated or updated, ${r.rejected} rejected, ${r.deleted} deleted in legacy since (refs kept) in ${r.passes} passes`);
      return 0;
    }
    if (cmd === 'switch' || cmd === 'archive') {
      const r = cmd === 'switch' ? await switchOver(db, pm, runOpts()) : await archive(db, pm);
      const done = 'switched' in r ? r.switched : r.archived;
      for (const d of r.verify.differences) console.log(d);
      console.log(done ? `${cmd}: done${'as' in r ? ` (legacy_archive.emails_${r.as})` : ''}` : `${cmd}: refused, verify found ${r.verify.differences.length} differences`);
      return done ? 0 : 1;
    }
    if (cmd === 'rollback') {
      const r = await rollback(db, pm);
      console.log(`rollback: ${r.copied} refs copied back into emails, ${r.updated} legacy rows updated; phase legacy`);
      return 0;
    }
    if (cmd === 'restore') {
      console.log(`restore: legacy_archive.*_${(await restore(db)).restored} moved back; phase switched`);
      return 0;
    }
    if (cmd === 'state') {
      console.log(JSON.stringify(await readState(db)));
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
