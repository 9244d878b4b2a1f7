import { MESSAGE_COLUMNS } from '@penguinmails/metadata/dist/db/rows';
import { THREAD } from '@penguinmails/metadata/dist/db/select-thread';
import { uuidFor } from './prng';
import { NS } from './dataset';
import type { Dataset } from './dataset';

/**
 * The hot queries, taken from the metadata service's own SQL (services/metadata/src/db and
 * the kit's listPage) so the benchmark times the plans the service runs; the table name is
 * the only thing changed for `emails`.
 */
export interface HotQuery {
  key: string;
  title: string;
  /** What the parameters are, printed with the results. */
  params: string;
  sql(table: string): string;
  /** Parameter sets: [0] is the one used for cold runs and EXPLAIN, warm runs rotate. */
  values: unknown[][];
  /** Shown when the query is not the same work on both tables. */
  note?: string;
}

const PAGE = 50;

/** The cursor column the kit's listPage (packages/service-kit/src/pg/keyset.ts) adds to a list's select list. */
export const CURSOR_COLUMNS = `(extract(epoch from created) * 1000000)::bigint::text as cursor_us`;

function listSql(table: string, where: string[], columns = MESSAGE_COLUMNS): string {
  // ListMessages (the kit's listPage): page_size + 1 rows, newest first, keyset cursor columns.
  return `select ${columns}, ${CURSOR_COLUMNS} from ${table}
      where ${where.join(' and ')}
      order by created desc, id desc
      limit ${PAGE + 1}`;
}

/** Evenly spread picks from `sorted`, starting with `first`. */
function spread<T>(first: T, sorted: T[], n: number): T[] {
  const out = [first];
  for (let k = 0; k < n - 1 && sorted.length > 0; k++) out.push(sorted[Math.floor((k * sorted.length) / (n - 1 || 1)) % sorted.length]);
  return out;
}

export function hotQueries(ds: Dataset): HotQuery[] {
  const tenantId = (t: number) => ds.tenants[t].id;

  // A mailbox's latest 50: mailboxes of every size; cold/EXPLAIN on the median-sized one.
  const perMailbox = new Map<number, number>();
  for (let i = 0; i < ds.rows; i++) perMailbox.set(ds.mailbox[i], (perMailbox.get(ds.mailbox[i]) ?? 0) + 1);
  const mailboxes = [...perMailbox.entries()].filter(([, n]) => n >= PAGE).sort((a, b) => a[1] - b[1]);
  const medianMailbox = mailboxes[Math.floor(mailboxes.length / 2)];
  const mbValues = spread(medianMailbox, mailboxes, 16).map(([m]) => [tenantId(ds.mailboxes[m].tenant), ds.mailboxes[m].id]);

  // A campaign's unprocessed: the campaign with the most unprocessed rows first.
  const unprocessed = new Map<number, number>();
  for (let i = 0; i < ds.rows; i++) if (ds.campaign[i] >= 0 && Number.isNaN(ds.processed[i])) unprocessed.set(ds.campaign[i], (unprocessed.get(ds.campaign[i]) ?? 0) + 1);
  const campaigns = [...unprocessed.entries()].sort((a, b) => b[1] - a[1]);
  const cValues = spread(campaigns[0], campaigns, 16).map(([c]) => [tenantId(ds.campaigns[c].tenant), ds.campaigns[c].id]);

  // A thread: start from the newest message of the deepest threads (walks up to the root,
  // then down through every reply).
  const deep: number[] = [];
  for (let i = ds.rows - 1; i >= 0 && deep.length < 400; i--) if (ds.depth[i] >= 4) deep.push(i);
  deep.sort((a, b) => ds.depth[b] - ds.depth[a] || b - a);
  const tValues = spread(deep[0], deep, 16).map((i) => [tenantId(ds.tenant[i]), uuidFor(NS.message, i)]);

  // A tenant's count by status: the biggest tenant first, then every tenant.
  const perTenant = new Array(ds.tenants.length).fill(0);
  for (let i = 0; i < ds.rows; i++) perTenant[ds.tenant[i]]++;
  const biggest = perTenant.indexOf(Math.max(...perTenant));
  const sValues = [biggest, ...ds.tenants.map((_, t) => t)].map((t) => [tenantId(t)]);

  return [
    {
      key: 'mailbox_latest_50',
      title: "mailbox's latest 50",
      params: `16 mailboxes of ${mailboxes[0][1]}..${mailboxes[mailboxes.length - 1][1]} messages; cold: median (${medianMailbox[1]})`,
      sql: (t) => listSql(t, ['tenant_id = $1', 'email_account_id = $2']),
      values: mbValues,
    },
    {
      key: 'campaign_unprocessed',
      title: "campaign's unprocessed (page of 50)",
      params: `16 campaigns with ${campaigns[campaigns.length - 1][1]}..${campaigns[0][1]} unprocessed; cold: the most`,
      sql: (t) => listSql(t, ['tenant_id = $1', 'campaign_id = $2', 'processed is null']),
      values: cValues,
    },
    {
      key: 'thread',
      title: 'thread (recursive CTE, GetThread)',
      params: `16 messages at depth >= 4 (up to ${ds.depth[deep[0]]}); cold: the deepest`,
      sql: (t) => THREAD.replace(/inbox_message_refs/g, t),
      values: tValues,
    },
    {
      key: 'tenant_count_by_status',
      title: "tenant's count by status",
      params: `every tenant (${Math.min(...perTenant)}..${perTenant[biggest]} messages); cold: the biggest`,
      sql: (t) => `select status, count(*)::int as n from ${t} where tenant_id = $1 group by status order by status`,
      values: sValues,
    },
    {
      key: 'mailbox_latest_50_select_star',
      title: "mailbox's latest 50, legacy `select *`",
      params: 'as the first query; emails returns its bodies too',
      sql: (t) => (t === 'emails' ? listSql(t, ['tenant_id = $1', 'email_account_id = $2'], '*') : listSql(t, ['tenant_id = $1', 'email_account_id = $2'])),
      values: mbValues,
      note: 'not the same work: what a legacy list view that selects * pays; refs never hold bodies (a reader of one body asks the content tier, not timed here)',
    },
  ];
}
