import { defaultMetrics } from '@penguinmails/service-kit';
import type { Store } from '../db/client';
import { fetchCopies, forEachStoredId, lookupKeys, type KeyRow } from '../db/event-keys';
import { insertEvents, type EventRow, type InsertEvents } from '../db/insert-events';
import { repairRecent } from '../db/repair-recent';
import { IdFilter } from './id-filter';

/**
 * How the writer learns whether an id is stored:
 * - `memory`: an in-process filter of every stored id answers "certainly new" for nearly every
 *   new event; only the rest (true copies and ~0.1% false alarms) are looked up in event_keys.
 *   Exact only while this process is the one writer of the store: always so with chDB (one
 *   process per data folder), and with a server when one replica ingests.
 * - `store`: every id is looked up in event_keys (slower: ~30 µs an id here). For several
 *   replicas writing one ClickHouse server.
 */
export type DedupFilter = 'memory' | 'store';

export interface EventWriterOptions {
  filter: DedupFilter;
  /** Most rows per insert when calls are coalesced (ANALYTICS_WRITE_MAX_ROWS). */
  maxRows: number;
}

interface Pending {
  rows: EventRow[];
  insert: InsertEvents;
  resolve: () => void;
  reject: (err: unknown) => void;
}

/**
 * The identity of a row, (tenant, event id), as a Map key. A batch is nearly always one
 * tenant's (IngestEvents; a consumer batch mostly), so rows of the group's first tenant are keyed
 * by their event id alone and others by `tenant/id`: a string with a `/` never equals a bare id,
 * so the two kinds cannot collide, and the common case builds no string per row.
 */
export const keyer = (first: string) => (r: { tenant_id: string; event_id: string }) => (r.tenant_id === first ? r.event_id : `${r.tenant_id}/${r.event_id}`);
const UNIQUE_TYPES = new Set(['unique_opened', 'unique_clicked']);
const MIN_FILTER_CAPACITY = 10_000_000;

/**
 * Does `row` know more than the stored copy `cur`? A fact's copy with a higher detail_rank (003:
 * the message itself over a caller over a status change, +4 for a known bounce type); a first
 * open/click that happened earlier (the first is the earliest).
 */
function better(row: EventRow, cur: Pick<KeyRow, 'occurred_at' | 'detail_rank'>): boolean {
  if (UNIQUE_TYPES.has(row.event_type)) return row.occurred_at < cur.occurred_at;
  return row.detail_rank > cur.detail_rank;
}

/**
 * The one way rows get into `events` (migration 006): de-duplicated before they are written, so
 * the rollups can be plain sums.
 *
 * - Calls are serialized in this process and coalesced: what arrives while an insert runs goes
 *   into the next one (up to `maxRows`), so many small IngestEvents calls and consumer batches
 *   become few large inserts (ClickHouse's cost is per insert and per part, not per row).
 * - For each row: not stored → written with sign +1. Stored and this copy knows no more → not
 *   written. Stored and this copy knows more → the stored copy is cancelled (written again with
 *   sign -1) and this one written with +1, in the same insert.
 * - The filter learns the ids BEFORE the insert: if the insert fails half way, the ids it did
 *   store are "maybe" and get looked up next time (never "certainly new" while stored).
 * - A failed insert rejects every call coalesced into it; each caller retries (IngestEvents'
 *   client, the consumer's redelivery), and the retry writes only what is not stored yet.
 */
export class EventWriter {
  private filter?: IdFilter;
  private loading?: Promise<void>;
  private readonly queue: Pending[] = [];
  private running = false;
  /** An insert failed: its rows may be in some tables and not others until repairRecent runs. */
  private dirty = false;

  constructor(
    private readonly store: Store,
    readonly options: EventWriterOptions,
  ) {}

  /** Fills the in-process filter from event_keys (memory mode); called at start and when the filter is full. */
  load(): Promise<void> {
    if (this.options.filter !== 'memory') return Promise.resolve();
    this.loading ??= (async () => {
      // First make event_keys and the rollups agree with events again, in case the last process
      // died inside an insert (src/db/repair-recent.ts): the filter is loaded from event_keys.
      await repairRecent(this.store);
      this.dirty = false;
      const stored = await this.countStored();
      // Room for 10M ids at least (18 MB): a full filter is rebuilt from the store, and writes
      // wait for that (seconds at millions of ids), so it should be rare: doubling from there.
      const filter = new IdFilter(Math.max(MIN_FILTER_CAPACITY, stored * 2));
      await forEachStoredId(this.store, (buf, o) => filter.addRowBinary(buf, o));
      this.filter = filter;
    })().finally(() => {
      this.loading = undefined;
    });
    return this.loading;
  }

  /** Stores the rows (see the class comment); resolves once ClickHouse has them. */
  write(rows: EventRow[], insert: InsertEvents = insertEvents): Promise<void> {
    if (rows.length === 0) return Promise.resolve();
    return new Promise((resolve, reject) => {
      this.queue.push({ rows, insert, resolve, reject });
      if (!this.running) void this.drain();
    });
  }

  private async drain(): Promise<void> {
    this.running = true;
    try {
      while (this.queue.length > 0) {
        // Coalesce calls with the same insert function (tests wrap it) up to maxRows rows.
        const group: Pending[] = [this.queue.shift()!];
        let n = group[0].rows.length;
        while (this.queue.length > 0 && this.queue[0].insert === group[0].insert && n + this.queue[0].rows.length <= this.options.maxRows) {
          n += this.queue[0].rows.length;
          group.push(this.queue.shift()!);
        }
        try {
          await this.writeGroup(
            group.flatMap((p) => p.rows),
            group[0].insert,
          );
          for (const p of group) p.resolve();
        } catch (err) {
          this.dirty = true;
          for (const p of group) p.reject(err);
        }
      }
    } finally {
      this.running = false;
    }
  }

  private async writeGroup(rows: EventRow[], insert: InsertEvents): Promise<void> {
    if (this.options.filter === 'memory' && (!this.filter || this.filter.full)) await this.load();
    else if (this.options.filter === 'memory' && this.dirty) {
      await repairRecent(this.store);
      this.dirty = false;
    }
    // The best copy of each id within the group.
    const key = keyer(rows[0].tenant_id);
    const best = new Map<string, EventRow>();
    for (const r of rows) {
      const k = key(r);
      const seen = best.get(k);
      if (!seen || better(r, seen)) best.set(k, r);
    }
    const candidates = this.filter ? [...best.values()].filter((r) => this.filter!.mightHaveText(r.event_id)) : [...best.values()];
    const stored = currentCopies(await lookupKeys(this.store, candidates), key);

    const out: EventRow[] = [];
    const cancel: KeyRow[] = [];
    for (const [k, r] of best) {
      const cur = stored.get(k);
      if (!cur) out.push(r);
      else if (better(r, cur)) {
        cancel.push(cur);
        out.push(r);
      }
    }
    if (cancel.length > 0) {
      const copies = await fetchCopies(this.store, cancel);
      // A copy event_keys knows but events does not show (a merge in between is not possible:
      // both collapse only cancelled pairs) would be a store out of step; writing the better
      // copy without its cancellation would count the event twice, so refuse loudly instead.
      if (copies.length !== cancel.length) throw new Error(`event_keys and events disagree on ${cancel.length - copies.length} stored copies; nothing written`);
      for (const c of copies) out.push({ ...c, sign: -1 });
    }
    if (out.length === 0) {
      metrics().rows.inc({ outcome: 'already_stored' }, best.size);
      return;
    }
    if (this.filter) for (const r of out) if (r.sign === 1) this.filter.addText(r.event_id);
    await insert(this.store, out);
    const m = metrics();
    m.inserts.inc();
    m.rows.inc({ outcome: 'written' }, out.length - 2 * cancel.length);
    if (cancel.length) m.rows.inc({ outcome: 'replaced' }, cancel.length);
    if (best.size > out.length - cancel.length) m.rows.inc({ outcome: 'already_stored' }, best.size - (out.length - cancel.length));
    m.lookedUp.inc(candidates.length);
  }

  private async countStored(): Promise<number> {
    const [row] = await (
      await this.store.client.query({ query: `select count() as n from ${this.store.table('event_keys')}`, format: 'JSONEachRow' })
    ).json<{ n: number | string }>();
    return Number(row?.n ?? 0);
  }
}

/**
 * The copy of each id that stands (event_keys rows net of their cancellations): cancellations
 * repeat their copy's (campaign, time, rank), so the copies left with a positive count stand.
 * Normally one; if a race between two writers stored two, the highest rank is taken.
 */
function currentCopies(rows: KeyRow[], key: (r: KeyRow) => string): Map<string, KeyRow> {
  const net = new Map<string, { row: KeyRow; n: number }>();
  for (const r of rows) {
    const sig = `${key(r)}|${r.campaign_id}|${r.occurred_at}|${r.detail_rank}`;
    const e = net.get(sig);
    if (e) e.n += r.sign;
    else net.set(sig, { row: r, n: r.sign });
  }
  const out = new Map<string, KeyRow>();
  for (const { row, n } of net.values()) {
    if (n <= 0) continue;
    const k = key(row);
    const cur = out.get(k);
    if (!cur || row.detail_rank > cur.detail_rank) out.set(k, row);
  }
  return out;
}

/** The writer's counters on the service's /metrics (shared by name, created on first use). */
function metrics() {
  const m = defaultMetrics();
  return {
    inserts: m.counter('pm_analytics_writer_inserts_total', 'Inserts the event writer made (each coalescing one or more calls).'),
    rows: m.counter('pm_analytics_writer_events_total', 'Events the writer was given, by outcome: written (new), replaced (a stored copy that knew less, cancelled), already_stored (a copy, not written).', ['outcome']),
    lookedUp: m.counter('pm_analytics_writer_lookups_total', 'Event ids looked up in event_keys (the filter said maybe, or the store filter).'),
  };
}

const writers = new WeakMap<Store, EventWriter>();

/**
 * The store's writer (one per store in this process: the serialization is the point). The first
 * call may set the options (main.ts does, from the settings); otherwise chDB gets `memory` and a
 * server `store`.
 */
export function writerFor(store: Store, options?: Partial<EventWriterOptions>): EventWriter {
  let w = writers.get(store);
  if (!w) {
    w = new EventWriter(store, { filter: options?.filter ?? (store.native ? 'memory' : 'store'), maxRows: options?.maxRows ?? 20_000 });
    writers.set(store, w);
  }
  return w;
}
