#!/usr/bin/env node
// `penguinmails`: the developer and operator CLI over @penguinmails/sdk.
// Run it as `npx penguinmails ...` inside the repository or `npm run pm -- ...` from its root.
import fs from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const REPO_ROOT = path.resolve(HERE, '..', '..', '..');

const USAGE = `usage: penguinmails <command> [options]

commands:
  status                                   health of the four services
  tenants create --name <name> [--id <uuid>]
  campaigns list --tenant <id> [--status draft|active|paused|completed|archived] [--limit n]
  message show --tenant <id> --id <message id>     ref, body and thread
  jobs list --tenant <id> [--queue <name>] [--status queued|running|succeeded|failed|dead|cancelled|held] [--limit n]
  jobs retry --tenant <id> --id <job id>          a dead job queued again (RetryJob)
  jobs cancel --tenant <id> --id <job id> [--running]  cancel a waiting job (CancelJob); --running also
                                                  a running one (its worker is refused at its next call)
  jobs stats [--tenant <id>] [--queue <name>]     depth per status, oldest runnable age, last minute's
                                                  finishes, jobs waiting for a group slot per queue
                                                  (GetQueueStats; no --tenant: every tenant summed,
                                                  needs a service token)
  jobs holds --tenant <id> [--limit n]            the held keys (ListHolds): since when, jobs waiting
  jobs hold|release --tenant <id> --key <hold key>  hold a key's waiting jobs (HELD, never claimed) or
                                                  queue them again (HoldJobs / ReleaseJobs); a paused
                                                  campaign's sends are held as campaign:<id> already
  jobs hold ... --cancel-waiting                  hold the key and cancel its waiting jobs (a completed
                                                  or archived campaign's are cancelled already)
  jobs limits --tenant <id> [--queue <name>] [--limit n]  the group limits set (ListGroupLimits)
  jobs limit --tenant <id> --queue <name> [--group <key>] --max <n>  at most n running jobs of the
                                                  group (no --group: the queue's default for every group;
                                                  --max 0 removes the setting) (SetGroupLimit)
  jobs limit|limits --every-tenant ...            the platform's default of a queue for every tenant's
                                                  groups without a setting of their tenant (no --group;
                                                  a token with service scope)
  schedules list --tenant <id> [--limit n]
  schedules pause|resume --tenant <id> --id <schedule id>
  metrics campaign --tenant <id> --id <campaign id> [--from <ISO time>] [--to <ISO time>]
  demo [--seed n] [--leads n] [--workers n]       the four tiers as one: sends, replies, bounces, opens; checks analytics

options:
  --json          JSON instead of tables
  --deadline <ms> deadline of each call (default 10000)

where the services are: PM_METADATA_URL, PM_CONTENT_URL, PM_QUEUE_URL, PM_ANALYTICS_URL (host:port)
or PM_<SERVICE>_PORT; else the addresses a running \`npm start\` wrote to .data/stack.json; else
localhost:50051-50054. PM_TOKEN: bearer token. PM_TLS_CA / PM_TLS_CERT / PM_TLS_KEY: TLS.`;

class UsageError extends Error {}

function parseArgs(argv) {
  const positional = [];
  const flags = {};
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--json' || a === '-h' || a === '--help' || a === '--cancel-waiting' || a === '--running' || a === '--every-tenant') flags[a.replace(/^-+/, '')] = true;
    else if (a.startsWith('--')) {
      const eq = a.indexOf('=');
      if (eq > 0) flags[a.slice(2, eq)] = a.slice(eq + 1);
      else {
        const v = argv[i + 1];
        if (v === undefined || v.startsWith('--')) throw new UsageError(`${a} needs a value`);
        flags[a.slice(2)] = v;
        i++;
      }
    } else positional.push(a);
  }
  return { positional, flags };
}

function need(flags, name) {
  const v = flags[name];
  if (v === undefined || v === '') throw new UsageError(`--${name} is required`);
  return v;
}

/** --tenant <id>, or '' (the platform's, every tenant) with --every-tenant: never by leaving --tenant out. */
function tenantOrEvery(flags) {
  if (!flags['every-tenant']) return need(flags, 'tenant');
  if (flags.tenant !== undefined) throw new UsageError('--tenant or --every-tenant, not both');
  return '';
}

function loadSdk() {
  const entry = path.join(HERE, '..', 'dist', 'index.js');
  if (!fs.existsSync(entry)) throw new UsageError('the SDK is not built: run `npm run build` (or `npm start`) in the repository first');
  return createRequire(import.meta.url)(entry);
}

// ---- output ----------------------------------------------------------------------------------
function printTable(rows) {
  if (rows.length <= 1) {
    process.stdout.write('(none)\n');
    return;
  }
  const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => String(r[i] ?? '').length)));
  for (const [n, r] of rows.entries()) {
    process.stdout.write(r.map((c, i) => String(c ?? '').padEnd(widths[i])).join('  ').trimEnd() + '\n');
    if (n === 0) process.stdout.write(widths.map((w) => '-'.repeat(w)).join('  ') + '\n');
  }
}

function toJson(value) {
  return JSON.stringify(
    value,
    (_k, v) => (typeof v === 'bigint' ? v.toString() : v instanceof Uint8Array ? `<${v.length} bytes>` : v),
    2,
  );
}

const time = (d) => (d instanceof Date ? d.toISOString().replace('.000Z', 'Z') : '');
const enumName = (toJSON, prefix) => (v) => {
  const name = toJSON(v);
  return name.startsWith(prefix) ? name.slice(prefix.length).toLowerCase() : name.toLowerCase();
};
function enumValue(fromJSON, prefix, text, flag) {
  let value = -1;
  try {
    value = fromJSON(`${prefix}${String(text).toUpperCase()}`);
  } catch {
    // ts-proto throws on an unknown name
  }
  if (value <= 0) throw new UsageError(`--${flag} ${text} is not one of the accepted values (see --help)`);
  return value;
}

// ---- addresses --------------------------------------------------------------------------------
function discover(sdk) {
  const env = process.env;
  const explicit = sdk.settingsFromEnv(env);
  const file = sdk.findStackFile(process.cwd(), env) ?? path.join(REPO_ROOT, '.data', 'stack.json');
  const found = sdk.readStackFile(file);
  const addresses = {};
  if (found.state === 'live') Object.assign(addresses, found.stack.services);
  else if (found.state === 'stale') process.stderr.write(`note: ignoring ${path.relative(process.cwd(), found.path) || found.path}: ${found.reason}; using the default ports\n`);
  return { ...explicit, addresses: { ...addresses, ...explicit.addresses } };
}

// ---- commands ---------------------------------------------------------------------------------
async function run(argv) {
  const { positional, flags } = parseArgs(argv);
  if (flags.help || flags.h || positional.length === 0) {
    process.stdout.write(USAGE + '\n');
    return positional.length === 0 && !flags.help && !flags.h ? 1 : 0;
  }
  const sdk = loadSdk();
  const { metadataV1, queueV1 } = sdk;
  const settings = discover(sdk);
  if (flags.deadline) settings.deadlineMs = Number(flags.deadline);
  const pm = sdk.createPlatform(settings, { env: {} });
  const json = Boolean(flags.json);
  const out = (value, table) => (json ? process.stdout.write(toJson(value) + '\n') : table());
  const limit = flags.limit ? Number(flags.limit) : 0;
  const [group, action] = positional;
  const command = `${group}${action ? ' ' + action : ''}`;
  try {
    switch (command) {
      case 'status': {
        const health = await pm.health();
        out(health, () => printTable([['service', 'address', 'health'], ...health.map((h) => [h.service, h.address, h.status === 'UNAVAILABLE' ? 'not answering' : h.status])]));
        return health.every((h) => h.status === 'SERVING') ? 0 : 1;
      }
      case 'tenants create': {
        const { tenant } = await pm.metadata.createTenant({ name: need(flags, 'name'), tenantId: flags.id ?? '' });
        const status = enumName(metadataV1.tenantStatusToJSON, 'TENANT_STATUS_');
        out(tenant, () => printTable([['id', 'name', 'status', 'created'], [tenant.id, tenant.name, status(tenant.status), time(tenant.created)]]));
        return 0;
      }
      case 'campaigns list': {
        const req = { tenantId: need(flags, 'tenant'), page: { pageSize: limit } };
        if (flags.status) req.status = enumValue(metadataV1.campaignStatusFromJSON, 'CAMPAIGN_STATUS_', flags.status, 'status');
        const { campaigns, page } = await pm.metadata.listCampaigns(req);
        const status = enumName(metadataV1.campaignStatusToJSON, 'CAMPAIGN_STATUS_');
        out({ campaigns, nextPageToken: page?.nextPageToken ?? '' }, () =>
          printTable([['id', 'name', 'status', 'timezone', 'created'], ...campaigns.map((c) => [c.id, c.name, status(c.status), c.schedule?.timezone ?? '', time(c.created)])]),
        );
        return 0;
      }
      case 'message show': {
        const view = await pm.getMessageWithBody(need(flags, 'tenant'), need(flags, 'id'));
        const dir = enumName(metadataV1.directionToJSON, 'DIRECTION_');
        const type = enumName(metadataV1.messageTypeToJSON, 'MESSAGE_TYPE_');
        const st = enumName(metadataV1.messageStatusToJSON, 'MESSAGE_STATUS_');
        out(view, () => {
          const m = view.message;
          printTable([
            ['field', 'value'],
            ['id', m.id],
            ['direction', dir(m.direction)],
            ['type', type(m.messageType)],
            ['status', st(m.status)],
            ['from', m.fromEmail],
            ['to', m.toEmail],
            ['subject', m.subject],
            ['campaign', m.campaignId || '-'],
            ['lead', m.leadId || '-'],
            ['message-id', m.providerMessageId || '-'],
            ['content', `${view.contentState.toLowerCase()}${m.contentStorageKey ? ` (${m.contentStorageKey})` : ''}`],
            ['created', time(m.created)],
          ]);
          process.stdout.write('\n');
          if (view.body) {
            process.stdout.write(`${view.body.contentText ?? '(no text part)'}\n`);
            if (view.body.contentHtml !== undefined) process.stdout.write(`(HTML part: ${view.body.contentHtml.length} characters)\n`);
            for (const a of view.body.attachments) process.stdout.write(`attachment: ${a.filename || '(unnamed)'} ${a.mimeType} ${a.sizeBytes} bytes\n`);
          } else process.stdout.write(`(body unavailable: ${view.bodyUnavailable})\n`);
          process.stdout.write(`\nthread (root ${view.rootMessageId}):\n`);
          printTable([['id', 'direction', 'type', 'from', 'subject', 'created'], ...view.thread.map((t) => [t.id === m.id ? `${t.id} *` : t.id, dir(t.direction), type(t.messageType), t.fromEmail, t.subject, time(t.created)])]);
        });
        return 0;
      }
      case 'jobs list': {
        const req = { tenantId: need(flags, 'tenant'), queue: flags.queue ?? '', page: { pageSize: limit } };
        if (flags.status) req.status = enumValue(queueV1.jobStatusFromJSON, 'JOB_STATUS_', flags.status, 'status');
        const { jobs, page } = await pm.queue.listJobs(req);
        const status = enumName(queueV1.jobStatusToJSON, 'JOB_STATUS_');
        out({ jobs, nextPageToken: page?.nextPageToken ?? '' }, () =>
          printTable([['id', 'queue', 'task', 'status', 'attempts', 'run at', 'last error'], ...jobs.map((j) => [j.id, j.queue, j.task, status(j.status), `${j.attempts}/${j.maxAttempts}`, time(j.runAt), j.lastError])]),
        );
        return 0;
      }
      case 'jobs retry': {
        const { job } = await pm.queue.retryJob({ tenantId: need(flags, 'tenant'), jobId: need(flags, 'id') });
        const status = enumName(queueV1.jobStatusToJSON, 'JOB_STATUS_');
        out({ job }, () => printTable([['id', 'queue', 'task', 'status', 'attempts', 'run at'], [job.id, job.queue, job.task, status(job.status), `${job.attempts}/${job.maxAttempts}`, time(job.runAt)]]));
        return 0;
      }
      case 'jobs cancel': {
        const { job } = await pm.queue.cancelJob({ tenantId: need(flags, 'tenant'), jobId: need(flags, 'id'), includeRunning: flags.running === true });
        const status = enumName(queueV1.jobStatusToJSON, 'JOB_STATUS_');
        out({ job }, () => printTable([['id', 'queue', 'task', 'status', 'attempts', 'finished'], [job.id, job.queue, job.task, status(job.status), `${job.attempts}/${job.maxAttempts}`, time(job.finished)]]));
        return 0;
      }
      case 'jobs limits': {
        const { groupLimits, page } = await pm.queue.listGroupLimits({ tenantId: tenantOrEvery(flags), queue: flags.queue ?? '', page: { pageSize: limit } });
        out({ groupLimits, nextPageToken: page?.nextPageToken ?? '' }, () =>
          printTable([['queue', 'group', 'max running', 'updated'], ...groupLimits.map((l) => [l.queue, l.groupKey || '(every group)', String(l.limit), time(l.updated)])]),
        );
        return 0;
      }
      case 'jobs limit': {
        const max = Number(need(flags, 'max'));
        if (!Number.isInteger(max)) throw new UsageError(`--max must be a whole number (0 removes the setting), not ${flags.max}`);
        const tenantId = tenantOrEvery(flags);
        const { groupLimit } = await pm.queue.setGroupLimit({ tenantId, queue: need(flags, 'queue'), groupKey: flags.group ?? '', limit: max });
        const what = groupLimit.groupKey
          ? `group ${groupLimit.groupKey} of queue ${groupLimit.queue}`
          : tenantId === ''
            ? `every group of queue ${groupLimit.queue}, in every tenant, without a limit of its tenant`
            : `every group of queue ${groupLimit.queue} without its own limit`;
        out({ groupLimit }, () => process.stdout.write(groupLimit.limit === 0 ? `removed the limit of ${what}\n` : `at most ${groupLimit.limit} running job(s) in ${what}\n`));
        return 0;
      }
      case 'jobs stats': {
        const { queues } = await pm.queue.getQueueStats({ tenantId: flags.tenant ?? '', queue: flags.queue ?? '' });
        const age = (ms) => (ms === 0n ? '-' : `${(Number(ms) / 1000).toFixed(1)} s`);
        out({ queues }, () =>
          printTable([
            ['queue', 'queued', 'held', 'running', 'failed', 'dead', 'succeeded', 'cancelled', 'oldest runnable', 'succeeded/min', 'dead/min', 'group waiting'],
            ...queues.map((x) => [x.queue, x.queued, x.held, x.running, x.failed, x.dead, x.succeeded, x.cancelled, age(x.oldestRunnableAgeMs), x.succeededLastMinute, x.deadLastMinute, x.groupWaiting].map(String)),
          ]),
        );
        return 0;
      }
      case 'jobs holds': {
        const { holds, page } = await pm.queue.listHolds({ tenantId: need(flags, 'tenant'), page: { pageSize: limit } });
        out({ holds, nextPageToken: page?.nextPageToken ?? '' }, () =>
          printTable([['hold key', 'held since', 'held jobs'], ...holds.map((h) => [h.holdKey, time(h.heldSince), String(h.heldJobs)])]),
        );
        return 0;
      }
      case 'jobs hold':
      case 'jobs release': {
        const req = { tenantId: need(flags, 'tenant'), holdKey: need(flags, 'key') };
        if (flags['cancel-waiting'] && action !== 'hold') throw new UsageError('--cancel-waiting goes with jobs hold');
        if (flags['cancel-waiting']) {
          const { cancelledJobs } = await pm.queue.holdJobs({ ...req, cancelWaiting: true });
          out({ holdKey: req.holdKey, cancelledJobs }, () => process.stdout.write(`cancelled ${cancelledJobs} waiting job(s) of key ${req.holdKey}; the key is held\n`));
          return 0;
        }
        const jobs = action === 'hold' ? (await pm.queue.holdJobs(req)).heldJobs : (await pm.queue.releaseJobs(req)).releasedJobs;
        out({ holdKey: req.holdKey, [action === 'hold' ? 'heldJobs' : 'releasedJobs']: jobs }, () =>
          process.stdout.write(`${action === 'hold' ? 'held' : 'released'} ${jobs} job(s) of key ${req.holdKey}\n`),
        );
        return 0;
      }
      case 'schedules list':
      case 'schedules pause':
      case 'schedules resume': {
        const tenantId = need(flags, 'tenant');
        const schedules =
          action === 'list'
            ? (await pm.queue.listSchedules({ tenantId, page: { pageSize: limit } })).schedules
            : [(await pm.queue[`${action}Schedule`]({ tenantId, scheduleId: need(flags, 'id') })).schedule];
        out(action === 'list' ? { schedules } : { schedule: schedules[0] }, () =>
          printTable([
            ['id', 'name', 'cron', 'time zone', 'queue', 'task', 'next fire', 'last fire', 'paused'],
            ...schedules.map((x) => [x.id, x.name, x.cron, x.timeZone, x.queue, x.task, time(x.nextFireAt), time(x.lastFireAt), x.pausedAt ? time(x.pausedAt) : '-']),
          ]),
        );
        return 0;
      }
      case 'metrics campaign': {
        const timeRange = {};
        for (const [flag, field] of [['from', 'start'], ['to', 'end']]) {
          if (!flags[flag]) continue;
          const d = new Date(flags[flag]);
          if (Number.isNaN(d.getTime())) throw new UsageError(`--${flag} must be an ISO time, e.g. 2025-01-31T00:00:00Z`);
          timeRange[field] = d;
        }
        const tenantId = need(flags, 'tenant');
        const [{ report }, freshness] = await Promise.all([
          pm.analytics.getCampaignMetrics({ tenantId, campaignId: need(flags, 'id'), timeRange }),
          // How current the numbers are; older services do not answer it.
          pm.analytics.getFreshness({ tenantId }).catch(() => undefined),
        ]);
        const t = report?.totals ?? {};
        const pct = (r) => `${((r ?? 0) * 100).toFixed(1)}%`;
        out({ report, freshness }, () => {
          printTable([
            ['metric', 'count', 'rate'],
            ['sent', t.sent ?? 0n, ''],
            ['delivered', t.delivered ?? 0n, pct(t.deliveryRate)],
            ['opened (unique)', t.uniqueOpened ?? 0n, pct(t.openRate)],
            ['clicked (unique)', t.uniqueClicked ?? 0n, pct(t.clickRate)],
            ['replied', t.replied ?? 0n, pct(t.replyRate)],
            ['auto-replied', t.autoReplied ?? 0n, ''],
            ['bounced', `${t.bounced ?? 0n} (hard ${t.hardBounced ?? 0n}, soft ${t.softBounced ?? 0n})`, pct(t.bounceRate)],
            ['unsubscribed', t.unsubscribed ?? 0n, pct(t.unsubscribeRate)],
            ['complained', t.complained ?? 0n, pct(t.complaintRate)],
          ]);
          if (freshness) process.stdout.write(`\nfreshness: ${freshness.pendingEvents} events pending, lag ${freshness.lagSeconds.toFixed(1)} s\n`);
        });
        return 0;
      }
      case 'demo': {
        // The four tiers as one: see src/demo.ts. Exit 1 when a figure of analytics differs.
        const entry = path.join(HERE, '..', 'dist', 'demo.js');
        if (!fs.existsSync(entry)) throw new UsageError('the SDK is not built: run `npm run build` (or `npm start`) first');
        const { runDemo } = createRequire(import.meta.url)(entry);
        const num = (name, dflt) => {
          if (flags[name] === undefined) return dflt;
          const v = Number(flags[name]);
          if (!Number.isInteger(v) || v < 0) throw new UsageError(`--${name} must be a whole number`);
          return v;
        };
        const health = await pm.health();
        const down = health.filter((h) => h.status !== 'SERVING');
        if (down.length) throw new UsageError(`${down.map((h) => `${h.service} (${h.address}): ${h.status}`).join(', ')}: is the platform running? (npm start)`);
        const result = await runDemo(pm, { seed: num('seed', 42), leads: num('leads', 120), workers: num('workers', 4) });
        return result.ok ? 0 : 1;
      }
      default:
        throw new UsageError(`unknown command "${command}" (see penguinmails --help)`);
    }
  } finally {
    pm.close();
  }
}

try {
  process.exitCode = await run(process.argv.slice(2));
} catch (err) {
  // One line, no stack: a usage mistake, a bad setting or the service's own answer.
  let line;
  if (err instanceof UsageError) line = err.message;
  else if (err && err.name === 'PenguinMailsError') {
    line = err.codeName === 'INVALID_ARGUMENT' ? err.message : `${err.codeName}: ${err.message}`;
    if (err.codeName === 'UNAVAILABLE') line += ' (is the platform running? `npm start`, then `npm run pm -- status`)';
  } else if (err && err.name === 'SettingsError') line = err.message;
  else line = `${err?.message ?? err} (unexpected; rerun with NODE_DEBUG=penguinmails for details)`;
  process.stderr.write(`error: ${line}\n`);
  if (process.env.NODE_DEBUG?.includes('penguinmails') && err?.stack) process.stderr.write(err.stack + '\n');
  process.exitCode = 1;
}
