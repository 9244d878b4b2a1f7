import { Prng, uuidFor } from './prng';

/**
 * The generated world both tables are loaded with: tenants of very different sizes, their
 * mailboxes, campaigns with 3-5 sequence steps, leads, and the messages of cold outreach
 * conversations (sequence steps as a thread, bounces, auto-replies, replies and manual answers),
 * spread over six months and sorted by time, as a real table fills up.
 *
 * Messages are kept in typed arrays (one entry per row, in load order) so 1M rows cost tens of
 * MB, not a million objects; strings are made on demand while loading.
 */

export const DIRECTIONS = ['inbound', 'outbound'] as const;
export const MESSAGE_TYPES = ['email', 'bounce', 'auto_reply'] as const;
export const STATUSES = ['queued', 'sent', 'delivered', 'opened', 'clicked', 'replied', 'bounced', 'failed', 'received'] as const;
const OUT = 1;
const IN = 0;
const EMAIL = 0;
const BOUNCE = 1;
const AUTO_REPLY = 2;
const S = Object.fromEntries(STATUSES.map((s, i) => [s, i])) as Record<(typeof STATUSES)[number], number>;

/** Namespaces of uuidFor(); one per kind of row. */
export const NS = { tenant: 1, mailbox: 2, campaign: 3, step: 4, lead: 5, message: 6 } as const;

/** The data set ends here (fixed, so the data does not depend on the day it is generated). */
export const END_MS = Date.UTC(2026, 9, 1);
const SPAN_MS = 180 * 86_400_000;

export interface Tenant {
  id: string;
  name: string;
  domain: string;
  mailboxes: number[];
  campaigns: number[];
  /** Global lead indexes [leadStart, leadStart + leadCount). */
  leadStart: number;
  leadCount: number;
}
export interface Mailbox {
  id: string;
  tenant: number;
  email: string;
  name: string;
  provider: string;
}
export interface Campaign {
  id: string;
  tenant: number;
  name: string;
  steps: number[];
  subject: string;
}
export interface Step {
  id: string;
  campaign: number;
  number: number;
  delayDays: number;
}
export interface Lead {
  tenant: number;
  first: string;
  last: string;
  company: string;
  email: string;
}

export interface Dataset {
  seed: number;
  tenants: Tenant[];
  mailboxes: Mailbox[];
  campaigns: Campaign[];
  steps: Step[];
  leads: Lead[];
  /** Messages, sorted by created (the load order). -1 means none. */
  rows: number;
  tenant: Int32Array;
  mailbox: Int32Array;
  campaign: Int32Array;
  lead: Int32Array;
  step: Int32Array;
  parent: Int32Array;
  direction: Uint8Array;
  type: Uint8Array;
  status: Uint8Array;
  /** Position in its thread (0 = root). */
  depth: Uint8Array;
  created: Float64Array;
  /** NaN = not processed. */
  processed: Float64Array;
  /** Index of the root message of the row's thread. */
  root: Int32Array;
}

const FIRST = ['Ana', 'Ben', 'Chloe', 'Diego', 'Emma', 'Farid', 'Grace', 'Hiro', 'Ines', 'Jonas', 'Kira', 'Liam', 'Maya', 'Noah', 'Olga', 'Pablo', 'Quinn', 'Rosa', 'Sven', 'Tara', 'Uma', 'Victor', 'Wen', 'Xavier', 'Yara', 'Zoe'];
const LAST = ['Silva', 'Meyer', 'Okafor', 'Nguyen', 'Kowalski', 'Garcia', 'Smith', 'Tanaka', 'Rossi', 'Dubois', 'Jensen', 'Novak', 'Haddad', 'Larsen', 'Moreau', 'Petrov', 'Schmidt', 'Ortiz', 'Kim', 'Walsh'];
const CO_A = ['North', 'Blue', 'Bright', 'Iron', 'Cloud', 'Atlas', 'Peak', 'Swift', 'Quantum', 'Harbor', 'Cedar', 'Nova', 'Silver', 'Red', 'Open', 'Prime'];
const CO_B = ['Labs', 'Logistics', 'Analytics', 'Health', 'Foods', 'Systems', 'Capital', 'Works', 'Robotics', 'Media', 'Energy', 'Retail', 'Partners', 'Software'];
const SUBJECTS = [
  'Quick question about {co}',
  'Idea for {co} growth this quarter',
  '{first}, worth a 15-minute call?',
  'Cutting onboarding time at {co}',
  'How teams like {co} reduce churn',
  'Partnership idea: {co} x our team',
  'Saw your post, {first}',
  'A better way to handle outbound at {co}',
];
const PROVIDERS = ['google', 'microsoft', 'smtp'];

export interface DatasetOptions {
  rows: number;
  seed?: number;
  tenants?: number;
}

export function generateDataset(opts: DatasetOptions): Dataset {
  const seed = opts.seed ?? 20_260_101;
  const rng = new Prng(seed);
  const rowsWanted = opts.rows;
  if (rowsWanted >= 1 << 24) throw new RangeError('at most 16M rows');
  const tenantCount = opts.tenants ?? 20;

  // Tenant sizes follow 1/rank (Zipf, s=1): the biggest has ~28% of all messages, the smallest ~1.4%.
  const weights = Array.from({ length: tenantCount }, (_, i) => 1 / (i + 1));
  const wsum = weights.reduce((a, b) => a + b, 0);
  const share = weights.map((w) => w / wsum);
  const cumulative: number[] = [];
  share.reduce((acc, w) => (cumulative.push(acc + w), acc + w), 0);

  const tenants: Tenant[] = [];
  const mailboxes: Mailbox[] = [];
  const campaigns: Campaign[] = [];
  const steps: Step[] = [];
  const leads: Lead[] = [];
  // ~2.6 messages per conversation, each lead in ~1.3 conversations.
  const leadsPerRow = 1 / 2.6 / 1.3;
  for (let t = 0; t < tenantCount; t++) {
    const domain = `${CO_A[t % CO_A.length].toLowerCase()}${CO_B[(t * 7) % CO_B.length].toLowerCase()}${t}.io`;
    const tenant: Tenant = { id: uuidFor(NS.tenant, t), name: `${CO_A[t % CO_A.length]} ${CO_B[(t * 7) % CO_B.length]} ${t}`, domain, mailboxes: [], campaigns: [], leadStart: leads.length, leadCount: 0 };
    tenants.push(tenant);
    const nMailboxes = Math.max(3, Math.round(200 * share[t]));
    for (let m = 0; m < nMailboxes; m++) {
      const first = rng.pick(FIRST);
      const idx = mailboxes.length;
      mailboxes.push({ id: uuidFor(NS.mailbox, idx), tenant: t, email: `${first.toLowerCase()}.${m}@${domain}`, name: `${first} at ${tenant.name}`, provider: rng.pick(PROVIDERS) });
      tenant.mailboxes.push(idx);
    }
    const nCampaigns = Math.max(2, Math.round(100 * share[t]));
    for (let c = 0; c < nCampaigns; c++) {
      const idx = campaigns.length;
      const campaign: Campaign = { id: uuidFor(NS.campaign, idx), tenant: t, name: `Campaign ${c + 1} of ${tenant.name}`, steps: [], subject: rng.pick(SUBJECTS) };
      campaigns.push(campaign);
      tenant.campaigns.push(idx);
      const nSteps = rng.int(3, 5);
      for (let s = 1; s <= nSteps; s++) {
        const sIdx = steps.length;
        steps.push({ id: uuidFor(NS.step, sIdx), campaign: idx, number: s, delayDays: s === 1 ? 0 : rng.int(2, 5) });
        campaign.steps.push(sIdx);
      }
    }
    const nLeads = Math.max(10, Math.ceil(rowsWanted * share[t] * leadsPerRow));
    for (let l = 0; l < nLeads; l++) {
      const first = rng.pick(FIRST);
      const last = rng.pick(LAST);
      const company = `${rng.pick(CO_A)} ${rng.pick(CO_B)}`;
      leads.push({ tenant: t, first, last, company, email: `${first.toLowerCase()}.${last.toLowerCase()}${l}@${company.replace(' ', '').toLowerCase()}.com` });
    }
    tenant.leadCount = nLeads;
  }

  // Messages, generated conversation by conversation, then sorted by time.
  const cap = rowsWanted + 16;
  const g = {
    tenant: new Int32Array(cap),
    mailbox: new Int32Array(cap),
    campaign: new Int32Array(cap),
    lead: new Int32Array(cap),
    step: new Int32Array(cap),
    parent: new Int32Array(cap),
    direction: new Uint8Array(cap),
    type: new Uint8Array(cap),
    status: new Uint8Array(cap),
    depth: new Uint8Array(cap),
    created: new Float64Array(cap),
  };
  let n = 0;
  const add = (t: number, mb: number, c: number, l: number, st: number, parent: number, dir: number, type: number, status: number, created: number): number => {
    const i = n++;
    g.tenant[i] = t;
    g.mailbox[i] = mb;
    g.campaign[i] = c;
    g.lead[i] = l;
    g.step[i] = st;
    g.parent[i] = parent;
    g.direction[i] = dir;
    g.type[i] = type;
    g.status[i] = status;
    g.depth[i] = parent < 0 ? 0 : Math.min(255, g.depth[parent] + 1);
    g.created[i] = created;
    return i;
  };
  const minutes = (a: number, b: number) => rng.int(a, b) * 60_000;

  while (n < rowsWanted) {
    const t = rng.weighted(cumulative);
    const tenant = tenants[t];
    const mb = rng.pick(tenant.mailboxes);
    const lead = tenant.leadStart + rng.int(0, tenant.leadCount - 1);
    let time = END_MS - SPAN_MS + Math.floor(rng.next() * SPAN_MS);
    if (rng.chance(0.9)) {
      // A campaign conversation: the steps thread onto each other ("Re: ..." follow-ups).
      const c = rng.pick(tenant.campaigns);
      let prev = -1;
      for (const s of campaigns[c].steps) {
        time += steps[s].delayDays * 86_400_000 + minutes(0, 180);
        if (time >= END_MS || n >= rowsWanted) break;
        const out = add(t, mb, c, lead, s, prev, OUT, EMAIL, S.sent, time);
        prev = out;
        const x = rng.next();
        if (steps[s].number === 1 && x < 0.04) {
          // Hard bounce: the mailer daemon answers, the sequence stops.
          g.status[out] = S.bounced;
          if (n < rowsWanted) add(t, mb, c, lead, -1, out, IN, BOUNCE, S.received, time + minutes(1, 10));
          break;
        }
        if (x < 0.1) {
          // A reply stops the sequence; sometimes a back-and-forth follows.
          g.status[out] = S.replied;
          let at = time + minutes(30, 3 * 1440);
          let p = out;
          for (let k = 0; k < 4 && at < END_MS && n < rowsWanted; k++) {
            const inbound = k % 2 === 0;
            p = add(t, mb, c, lead, -1, p, inbound ? IN : OUT, EMAIL, inbound ? S.received : S.delivered, at);
            if (!rng.chance(0.45)) break;
            at += minutes(20, 2 * 1440);
          }
          break;
        }
        if (x < 0.13 && n < rowsWanted) add(t, mb, c, lead, -1, out, IN, AUTO_REPLY, S.received, time + minutes(0, 5));
        const y = rng.next();
        g.status[out] = y < 0.03 ? S.failed : y < 0.33 ? S.sent : y < 0.68 ? S.delivered : y < 0.93 ? S.opened : S.clicked;
      }
    } else {
      // Mail outside campaigns: an inbound message (from a lead or a stranger), maybe answered.
      const knownLead = rng.chance(0.6) ? lead : -1;
      const first = add(t, mb, -1, knownLead, -1, -1, IN, EMAIL, S.received, time);
      if (rng.chance(0.5) && n < rowsWanted) add(t, mb, -1, knownLead, -1, first, OUT, EMAIL, S.delivered, time + minutes(10, 2880));
    }
  }

  // Sort by time (ties by generation order) and remap parents.
  const order = new Int32Array(n);
  for (let i = 0; i < n; i++) order[i] = i;
  order.sort((a, b) => g.created[a] - g.created[b] || a - b);
  const newIndex = new Int32Array(n);
  for (let i = 0; i < n; i++) newIndex[order[i]] = i;
  const permute = <A extends Int32Array | Uint8Array | Float64Array>(src: A): A => {
    const dst = new (src.constructor as new (len: number) => A)(n);
    for (let i = 0; i < n; i++) dst[i] = src[order[i]];
    return dst;
  };
  const parent = permute(g.parent);
  for (let i = 0; i < n; i++) if (parent[i] >= 0) parent[i] = newIndex[parent[i]];
  const created = permute(g.created);
  const status = permute(g.status);

  // Processing workers keep up: ~5% of rows are still unprocessed, most of them recent.
  const processed = new Float64Array(n);
  const recent = END_MS - 2 * 86_400_000;
  for (let i = 0; i < n; i++) {
    if (created[i] >= recent || rng.chance(0.035)) processed[i] = NaN;
    else processed[i] = created[i] + rng.int(1, 900) * 1000;
    // The last hours' outbound mail is partly still queued.
    if (created[i] >= END_MS - 6 * 3_600_000 && status[i] !== S.received && rng.chance(0.5)) status[i] = S.queued;
  }
  const root = new Int32Array(n);
  for (let i = 0; i < n; i++) root[i] = parent[i] < 0 ? i : root[parent[i]];

  return {
    seed,
    tenants,
    mailboxes,
    campaigns,
    steps,
    leads,
    rows: n,
    tenant: permute(g.tenant),
    mailbox: permute(g.mailbox),
    campaign: permute(g.campaign),
    lead: permute(g.lead),
    step: permute(g.step),
    parent,
    direction: permute(g.direction),
    type: permute(g.type),
    status,
    depth: permute(g.depth),
    created,
    processed,
    root,
  };
}

/** The row's string columns, shared by both tables. */
export function messageStrings(ds: Dataset, i: number) {
  const t = ds.tenants[ds.tenant[i]];
  const mb = ds.mailboxes[ds.mailbox[i]];
  const leadIdx = ds.lead[i];
  const lead = leadIdx >= 0 ? ds.leads[leadIdx] : undefined;
  const id = uuidFor(NS.message, i);
  const outbound = ds.direction[i] === OUT;
  const type = ds.type[i];
  const stranger = `contact${i % 9973}@${['gmail.com', 'outlook.com', 'yahoo.com', 'proton.me'][i % 4]}`;
  const other = lead?.email ?? stranger;
  const from = outbound ? mb.email : type === BOUNCE ? 'mailer-daemon@googlemail.com' : other;
  const to = outbound ? other : mb.email;
  const campaign = ds.campaign[i] >= 0 ? ds.campaigns[ds.campaign[i]] : undefined;
  let base = campaign
    ? campaign.subject.replace('{co}', lead?.company ?? 'your team').replace('{first}', lead?.first ?? 'there')
    : ['Question about pricing', 'Following up on our chat', 'Intro request', 'Invoice question'][i % 4];
  if (type === BOUNCE) base = 'Delivery Status Notification (Failure)';
  else if (type === AUTO_REPLY) base = `Automatic reply: ${base}`;
  else if (ds.depth[i] > 0) base = `Re: ${base}`;
  const providerDomain = mb.provider === 'microsoft' ? 'outlook.com' : mb.provider === 'google' ? 'mail.gmail.com' : t.domain;
  return {
    id,
    tenantId: t.id,
    mailboxId: mb.id,
    campaignId: campaign?.id ?? null,
    leadId: leadIdx >= 0 ? uuidFor(NS.lead, leadIdx) : null,
    stepId: ds.step[i] >= 0 ? ds.steps[ds.step[i]].id : null,
    parentId: ds.parent[i] >= 0 ? uuidFor(NS.message, ds.parent[i]) : null,
    direction: DIRECTIONS[ds.direction[i]],
    messageType: MESSAGE_TYPES[type],
    from,
    to,
    subject: base,
    status: STATUSES[ds.status[i]],
    contentStorageKey: `tenants/${t.id}/messages/${new Date(ds.created[i]).toISOString().slice(0, 7)}/${id}.eml`,
    providerMessageId: `<${id.replace(/-/g, '').slice(0, 20)}.${(i * 2654435761) >>> 0}@${providerDomain}>`,
    clientKey: outbound && ds.step[i] >= 0 ? `send:${id}` : null,
    lead,
    mailbox: mb,
    tenant: t,
    campaign,
  };
}

export type MessageStrings = ReturnType<typeof messageStrings>;

/** Lead row uuid. */
export function leadId(index: number): string {
  return uuidFor(NS.lead, index);
}
