/**
 * The demo of the four tiers working as one (`npm run demo`, `penguinmails demo`): a tenant,
 * mailboxes, leads and a three-step campaign; every send through the queue and the outbound
 * flow (EnqueueJobs → a processSendJobs worker → sendMessage / IngestMessage); opens and clicks
 * (IngestEvents with `message_ref_id`), deliveries (UpdateMessageStatus), replies, auto-replies
 * and hard/soft bounces through the inbound flow (receiveMessage with `in_reply_to`); then it
 * waits for analytics (GetFreshness) and checks every figure of the campaign, each step and each
 * mailbox against what it simulated. Deterministic for a seed: the same seed, the same figures.
 */
import { randomUUID } from 'node:crypto';
import { analyticsV1, campaignHoldKey, commonV1, metadataV1 } from '@penguinmails/contracts';
import type { PenguinMails } from './platform';

/** The figures compared, in the order printed. */
export const DEMO_FIGURES = [
  'sent',
  'delivered',
  'opened',
  'uniqueOpened',
  'clicked',
  'uniqueClicked',
  'replied',
  'autoReplied',
  'bounced',
  'hardBounced',
  'softBounced',
] as const;
export type DemoFigure = (typeof DEMO_FIGURES)[number];
export type DemoCounts = Record<DemoFigure, number>;

export interface DemoOptions {
  seed?: number;
  leads?: number;
  mailboxes?: number;
  /** Workers (processSendJobs loops) sending the jobs. */
  workers?: number;
  /** How long to wait for analytics to catch up. */
  catchUpTimeoutMs?: number;
  /** Where the report goes (default stdout). */
  print?: (line: string) => void;
}

export interface DemoResult {
  ok: boolean;
  figures: number;
  differences: string[];
  tenantId: string;
  campaignId: string;
  expected: { campaign: DemoCounts; steps: DemoCounts[]; mailboxes: DemoCounts[] };
  seconds: { total: number; catchUp: number };
}

/** mulberry32: a small seeded PRNG, so a seed gives the same simulation every time. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const zero = (): DemoCounts => Object.fromEntries(DEMO_FIGURES.map((f) => [f, 0])) as DemoCounts;

type Outcome = 'hard_bounce' | 'soft_bounce' | 'reply' | 'auto_reply' | 'none';

interface PlannedSend {
  lead: number;
  step: number; // 0-based
  mailbox: number;
  outcome: Outcome;
  opens: number;
  clicks: number;
  delivered: boolean;
  providerMessageId: string;
}

/**
 * What happens to each message, decided up front from the seed: per message one outcome (hard
 * bounce 4%, soft bounce 4%, reply 9%, auto-reply 5%), opens (45% of the delivered, 1..3 each)
 * and clicks (30% of the opened, 1..2). A lead leaves the sequence after a reply or a hard bounce.
 */
function plan(seed: number, leads: number, mailboxes: number, steps: number, tag: string): PlannedSend[][] {
  const r = rng(seed);
  const out: PlannedSend[][] = [];
  const active = new Set(Array.from({ length: leads }, (_, i) => i));
  for (let step = 0; step < steps; step++) {
    const sends: PlannedSend[] = [];
    for (const lead of [...active].sort((a, b) => a - b)) {
      const x = r();
      const outcome: Outcome = x < 0.04 ? 'hard_bounce' : x < 0.08 ? 'soft_bounce' : x < 0.17 ? 'reply' : x < 0.22 ? 'auto_reply' : 'none';
      const delivered = outcome !== 'hard_bounce' && outcome !== 'soft_bounce';
      const opens = delivered && r() < 0.45 ? 1 + Math.floor(r() * 3) : 0;
      const clicks = opens > 0 && r() < 0.3 ? 1 + Math.floor(r() * 2) : 0;
      sends.push({ lead, step, mailbox: lead % mailboxes, outcome, opens, clicks, delivered, providerMessageId: `<${tag}.l${lead}.s${step + 1}@demo.penguinmails.test>` });
      if (outcome === 'reply' || outcome === 'hard_bounce') active.delete(lead);
    }
    out.push(sends);
  }
  return out;
}

function expectedOf(sends: PlannedSend[]): DemoCounts {
  const c = zero();
  for (const s of sends) {
    c.sent += 1;
    if (s.delivered) c.delivered += 1;
    c.opened += s.opens;
    if (s.opens > 0) c.uniqueOpened += 1;
    c.clicked += s.clicks;
    if (s.clicks > 0) c.uniqueClicked += 1;
    if (s.outcome === 'reply') c.replied += 1;
    if (s.outcome === 'auto_reply') c.autoReplied += 1;
    if (s.outcome === 'hard_bounce') (c.bounced += 1), (c.hardBounced += 1);
    if (s.outcome === 'soft_bounce') (c.bounced += 1), (c.softBounced += 1);
  }
  return c;
}

function countsOf(m: analyticsV1.EmailMetrics | undefined): DemoCounts {
  const n = (v: bigint | number | undefined) => Number(v ?? 0);
  return {
    sent: n(m?.sent),
    delivered: n(m?.delivered),
    opened: n(m?.opened),
    uniqueOpened: n(m?.uniqueOpened),
    clicked: n(m?.clicked),
    uniqueClicked: n(m?.uniqueClicked),
    replied: n(m?.replied),
    autoReplied: n(m?.autoReplied),
    bounced: n(m?.bounced),
    hardBounced: n(m?.hardBounced),
    softBounced: n(m?.softBounced),
  };
}

/** Runs `fn` over `items` with at most `limit` at once. */
async function pool<T>(items: T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(limit, items.length) }, async () => {
      while (next < items.length) await fn(items[next++]);
    }),
  );
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function runDemo(pm: PenguinMails, opts: DemoOptions = {}): Promise<DemoResult> {
  const seed = opts.seed ?? 42;
  const leadCount = opts.leads ?? 120;
  const mailboxCount = opts.mailboxes ?? 3;
  const workerCount = opts.workers ?? 4;
  const print = opts.print ?? ((line: string) => process.stdout.write(line + '\n'));
  const started = Date.now();
  const tag = `d${seed}-${randomUUID().slice(0, 8)}`; // Message-IDs unique per run; the figures depend on the seed only
  const STEPS = 3;
  const planned = plan(seed, leadCount, mailboxCount, STEPS, tag);

  // --- the tenant, its mailboxes, leads and campaign ------------------------------------------
  const tenantId = (await pm.metadata.createTenant({ name: `Demo (seed ${seed})` })).tenant!.id;
  const mailboxes: { id: string; email: string }[] = [];
  for (let i = 0; i < mailboxCount; i++) {
    const email = `sender${i + 1}@demo.penguinmails.test`;
    const { emailAccount } = await pm.metadata.createEmailAccount({ tenantId, email, displayName: `Sender ${i + 1}`, provider: metadataV1.EmailProvider.EMAIL_PROVIDER_SMTP });
    mailboxes.push({ id: emailAccount!.id, email });
  }
  const leads: { id: string; email: string }[] = new Array(leadCount);
  await pool(
    Array.from({ length: leadCount }, (_, i) => i),
    8,
    async (i) => {
      const email = `lead${String(i + 1).padStart(3, '0')}@prospect.test`;
      const { lead } = await pm.metadata.createLead({ tenantId, lead: { email, firstName: `Lead${i + 1}`, company: `Company ${(i % 17) + 1}` } });
      leads[i] = { id: lead!.id, email };
    },
  );
  const { campaign } = await pm.metadata.createCampaign({ tenantId, name: `Demo campaign (seed ${seed})` });
  const campaignId = campaign!.id;
  const steps: string[] = [];
  for (let n = 1; n <= STEPS; n++) {
    const { step } = await pm.metadata.createSequenceStep({ tenantId, campaignId, stepNumber: n, delayMinutes: n === 1 ? 0 : 60 * 24 * (n - 1), subjectTemplateKey: `step${n}.subject`, bodyTemplateKey: `step${n}.body` });
    steps.push(step!.id);
  }
  await pm.metadata.updateCampaignStatus({ tenantId, campaignId, status: metadataV1.CampaignStatus.CAMPAIGN_STATUS_ACTIVE });
  print(`demo: seed ${seed}: tenant ${tenantId}, ${mailboxCount} mailboxes, ${leadCount} leads, campaign ${campaignId} with ${STEPS} steps`);

  // --- the sends, step by step: EnqueueJobs → workers → sendMessage ---------------------------
  const refs = new Map<string, metadataV1.MessageRef>(); // providerMessageId → the sent ref
  const queueName = `send-${tag}`;
  let inbound = 0;
  let events = 0;
  for (let s = 0; s < STEPS; s++) {
    const sends = planned[s];
    const t0 = Date.now();
    for (let i = 0; i < sends.length; i += 500) {
      await pm.queue.enqueueJobs({
        tenantId,
        jobs: sends.slice(i, i + 500).map((p) => ({
          queue: queueName,
          task: 'send_email',
          idempotencyKey: `${tag}:${p.providerMessageId}`,
          // Held by the queue tier while the campaign is not ACTIVE.
          holdKey: campaignHoldKey(campaignId),
          payload: {
            emailAccountId: mailboxes[p.mailbox].id,
            campaignId,
            leadId: leads[p.lead].id,
            sequenceStepId: steps[s],
            fromEmail: mailboxes[p.mailbox].email,
            toEmail: leads[p.lead].email,
            subject: s === 0 ? `Quick question, Lead${p.lead + 1}` : `Re: Quick question, Lead${p.lead + 1}`,
            providerMessageId: p.providerMessageId,
          },
        })),
      });
    }
    const sentThisStep = new Set<string>();
    let allSent!: () => void;
    const allDone = new Promise<void>((resolve) => (allSent = resolve));
    if (sends.length === 0) allSent();
    const workers = Array.from({ length: workerCount }, (_, w) =>
      pm.processSendJobs({ tenantId, queue: queueName, workerId: `demo-worker-${w + 1}`, batchSize: 10, pollIntervalMs: 100, lean: true }, async (job) => {
        const payload = job.payload as Record<string, string>;
        const sent = await pm.sendMessage({
          job,
          message: { providerMessageId: payload.providerMessageId },
          body: { contentText: `Hi ${payload.toEmail}, step ${s + 1} of our sequence.`, contentHtml: `<p>Hi, step ${s + 1} of our sequence.</p>`, headers: { 'Message-ID': payload.providerMessageId } },
        });
        refs.set(payload.providerMessageId, sent.message);
        sentThisStep.add(payload.providerMessageId);
        if (sentThisStep.size === sends.length) allSent();
      }),
    );
    await allDone;
    await Promise.all(workers.map((w) => w.stop()));
    const sendSeconds = (Date.now() - t0) / 1000;

    // --- what came back: deliveries, opens and clicks, replies, auto-replies, bounces ---------
    await pool(sends, 8, async (p) => {
      const ref = refs.get(p.providerMessageId)!;
      const lead = leads[p.lead];
      const mailbox = mailboxes[p.mailbox];
      if (p.delivered) await pm.metadata.updateMessageStatus({ tenantId, messageId: ref.id, status: metadataV1.MessageStatus.MESSAGE_STATUS_DELIVERED });
      const tracking: analyticsV1.EmailEvent[] = [];
      const at = new Date();
      const base = { campaignId, emailAccountId: mailbox.id, sequenceStepId: steps[s], leadId: lead.id, messageRefId: ref.id, occurredAt: at, bounceType: 0, variant: '' };
      for (let i = 0; i < p.opens; i++) tracking.push({ ...base, eventId: randomUUID(), eventType: analyticsV1.EmailEventType.EMAIL_EVENT_TYPE_OPENED });
      for (let i = 0; i < p.clicks; i++) tracking.push({ ...base, eventId: randomUUID(), eventType: analyticsV1.EmailEventType.EMAIL_EVENT_TYPE_CLICKED });
      if (tracking.length > 0) {
        await pm.analytics.ingestEvents({ tenantId, events: tracking });
        events += tracking.length;
      }
      const replyOf = { emailAccountId: mailbox.id, toEmail: mailbox.email, inReplyTo: p.providerMessageId, references: [p.providerMessageId], providerMessageId: `<in.${p.providerMessageId.slice(1)}` };
      switch (p.outcome) {
        case 'reply':
          await pm.receiveMessage({ tenantId, kind: 'reply', message: { ...replyOf, fromEmail: lead.email, subject: `Re: ${ref.subject}` }, body: { contentText: 'Sounds interesting, tell me more.' } });
          inbound += 1;
          break;
        case 'auto_reply':
          await pm.receiveMessage({ tenantId, kind: 'auto_reply', message: { ...replyOf, fromEmail: lead.email, subject: `Out of office: ${ref.subject}` }, body: { contentText: 'I am away until Monday.' } });
          inbound += 1;
          break;
        case 'hard_bounce':
        case 'soft_bounce':
          await pm.receiveMessage({
            tenantId,
            kind: 'bounce',
            message: {
              ...replyOf,
              fromEmail: 'mailer-daemon@prospect.test',
              subject: 'Undelivered Mail Returned to Sender',
              bounceType: p.outcome === 'hard_bounce' ? commonV1.BounceType.BOUNCE_TYPE_HARD : commonV1.BounceType.BOUNCE_TYPE_SOFT,
            },
            body: { contentText: p.outcome === 'hard_bounce' ? '550 5.1.1 user unknown' : '452 4.2.2 mailbox full' },
          });
          inbound += 1;
          break;
        default:
          break;
      }
    });
    print(`demo: step ${s + 1}: ${sends.length} sends through the queue in ${sendSeconds.toFixed(1)} s (${workerCount} workers), then the inbound flow and tracking`);
  }
  print(`demo: ${refs.size} messages sent, ${inbound} inbound (replies, auto-replies, bounces), ${events} tracking events`);

  // --- wait for analytics -------------------------------------------------------------------
  const all = planned.flat();
  const expected = {
    campaign: expectedOf(all),
    steps: planned.map(expectedOf),
    mailboxes: mailboxes.map((_, m) => expectedOf(all.filter((p) => p.mailbox === m))),
  };
  const catchUpStart = Date.now();
  const timeout = opts.catchUpTimeoutMs ?? 60_000;
  const read = async () => {
    const [c, st, mb] = await Promise.all([
      pm.analytics.getCampaignMetrics({ tenantId, campaignId }),
      Promise.all(steps.map((id) => pm.analytics.getSequenceStepMetrics({ tenantId, sequenceStepId: id }))),
      Promise.all(mailboxes.map((m) => pm.analytics.getMailboxMetrics({ tenantId, emailAccountId: m.id }))),
    ]);
    return { campaign: countsOf(c.report?.totals), steps: st.map((r) => countsOf(r.report?.totals)), mailboxes: mb.map((r) => countsOf(r.report?.totals)) };
  };
  let actual = await read();
  for (;;) {
    const fresh = await pm.analytics.getFreshness({ tenantId });
    if (Number(fresh.pendingEvents) === 0) {
      actual = await read();
      if (JSON.stringify(actual) === JSON.stringify(expected)) break;
    }
    if (Date.now() - catchUpStart > timeout) {
      actual = await read();
      break;
    }
    await sleep(250);
  }
  const catchUp = (Date.now() - catchUpStart) / 1000;
  print(`demo: analytics caught up (GetFreshness pending 0) ${catchUp.toFixed(1)} s after the last call`);

  // --- the report ---------------------------------------------------------------------------
  const differences: string[] = [];
  let figures = 0;
  const rows: string[][] = [['', ...DEMO_FIGURES.map((f) => f.replace(/[A-Z]/g, (ch) => '_' + ch.toLowerCase()))]];
  const add = (name: string, exp: DemoCounts, got: DemoCounts) => {
    const row = [name];
    for (const f of DEMO_FIGURES) {
      figures += 1;
      if (exp[f] === got[f]) row.push(String(got[f]));
      else {
        row.push(`${got[f]}≠${exp[f]}`);
        differences.push(`${name} ${f}: analytics says ${got[f]}, the demo simulated ${exp[f]}`);
      }
    }
    rows.push(row);
  };
  add('campaign', expected.campaign, actual.campaign);
  steps.forEach((_, i) => add(`step ${i + 1}`, expected.steps[i], actual.steps[i]));
  mailboxes.forEach((m, i) => add(`mailbox ${m.email.split('@')[0]}`, expected.mailboxes[i], actual.mailboxes[i]));
  const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => r[i].length)));
  print('');
  for (const [n, r] of rows.entries()) {
    print(r.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  '));
    if (n === 0) print(widths.map((w) => '-'.repeat(w)).join('  '));
  }
  print('');
  const ok = differences.length === 0;
  if (ok) print(`demo: all ${figures} figures match`);
  else {
    print(`demo: ${differences.length} of ${figures} figures differ:`);
    for (const d of differences) print(`  ${d}`);
  }
  return { ok, figures, differences, tenantId, campaignId, expected, seconds: { total: (Date.now() - started) / 1000, catchUp } };
}
