import { randomUUID } from 'node:crypto';
import { rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { callSettings } from './call-settings';
import type { Store } from './client';

/** One `events` row (absent ids are the nil UUID). */
export interface EventRow {
  event_id: string;
  tenant_id: string;
  /** `YYYY-MM-DD hh:mm:ss.mmm`, UTC (sorts as text in time order) */
  occurred_at: string;
  /** event-types.ts, or unique_opened / unique_clicked (first open / click of a message) */
  event_type: string;
  campaign_id: string;
  email_account_id: string;
  sequence_step_id: string;
  lead_id: string;
  message_ref_id: string;
  /** 'hard' | 'soft' for bounced events whose type is known, else '' */
  bounce_type: string;
  /** The A/B variant ('' = none), migration 005. */
  variant: string;
  /** Which copy of a fact knows most (domain/events.ts); the writer keeps the highest. */
  detail_rank: number;
  /** +1 a stored copy, -1 the cancellation of one (migration 006). */
  sign: 1 | -1;
}

/** The signature of {@link insertEvents}, so a caller (the consumer, a test) can wrap it. */
export type InsertEvents = (store: Store, rows: EventRow[]) => Promise<void>;

const COLUMNS = [
  'event_id',
  'tenant_id',
  'occurred_at',
  'event_type',
  'campaign_id',
  'email_account_id',
  'sequence_step_id',
  'lead_id',
  'message_ref_id',
  'bounce_type',
  'variant',
  'detail_rank',
  'sign',
] as const;

/**
 * `optimize_on_insert = 0`: ClickHouse would otherwise collapse the inserted block as a merge
 * would, and a block holding a cancellation (-1) and the copy that replaces it (+1) under the
 * same sorting key (same time, campaign and id: e.g. a bounce's type learnt later) collapses to
 * nothing when the +1 happens to sort first — both rows lost. Kept apart, merges see the stored
 * copy (older part) first, and "more positive than negative rows: keep the last positive" keeps
 * the replacement (test/event-writer.test.ts).
 */
const INSERT_SETTINGS = { optimize_on_insert: 0 } as const;

/** TabSeparated escaping (ClickHouse's): backslash, tab, newline, carriage return. */
const escapeTsv = (v: string) => (/[\\\t\n\r]/.test(v) ? v.replace(/\\/g, '\\\\').replace(/\t/g, '\\t').replace(/\n/g, '\\n').replace(/\r/g, '\\r') : v);

const TAB = 0x09;
const NEWLINE = 0x0a;
/** A row's bytes besides its variant: 7 UUIDs, the time, type, bounce type, rank, sign, tabs. */
const FIXED_ROW_BYTES = 7 * 36 + 23 + 32 + 8 + 8 + 13;

/**
 * The rows as one TabSeparated body: half the bytes of JSONEachRow and no JSON parsing in the
 * engine.
 *
 * Written field by field into one Buffer rather than as a template string per row joined into
 * one string: 2.9-3.2 against 4.9-5.0 µs a row here (medians of 8 rounds of 100,000 rows,
 * separate processes; bench/README.md "The writer's JavaScript, cut"), the largest single cost
 * left in the writer. The fields other than the variant are ASCII by construction (lower-case UUIDs
 * validated, derived or read back from ClickHouse; the time as toClickHouseTime formats it; the
 * event and bounce types from fixed lists), so they are copied as Latin-1; a UUID or time that
 * was not would fail the engine's parse, not be stored changed. The variant is caller text:
 * escaped, then UTF-8 (test/event-writer.test.ts round-trips a backslash and non-ASCII text).
 */
export function toTsv(rows: EventRow[]): Buffer {
  let buf = Buffer.allocUnsafe(Math.max(4096, rows.length * (FIXED_ROW_BYTES + 8)));
  let o = 0;
  for (const r of rows) {
    const variant = escapeTsv(r.variant);
    const need = FIXED_ROW_BYTES + r.event_type.length + r.bounce_type.length + variant.length * 3;
    if (o + need > buf.length) {
      const bigger = Buffer.allocUnsafe(Math.max(buf.length * 2, o + need));
      buf.copy(bigger, 0, 0, o);
      buf = bigger;
    }
    // In COLUMNS' order, the one both insert paths name the columns in.
    for (const c of COLUMNS) {
      if (c === 'variant') o += buf.write(variant, o, 'utf8');
      else {
        const v = r[c];
        o += buf.write(typeof v === 'string' ? v : String(v), o, 'latin1');
      }
      buf[o++] = c === 'sign' ? NEWLINE : TAB;
    }
  }
  return buf.subarray(0, o);
}

/**
 * One INSERT for the whole batch, into `events`; its materialized views update event_keys and
 * the three rollups in the same insert. ClickHouse writes a block atomically per partition
 * (month), so a batch spanning months that fails half way may leave some months stored; the
 * writer's retry looks up what is stored and writes only the rest (src/domain/event-writer.ts).
 * On chDB the TabSeparated bytes reach the engine through a file ({@link insertThroughFile}).
 */
export const insertEvents: InsertEvents = async (store, rows) => {
  if (rows.length === 0) return;
  const body = toTsv(rows);
  if (store.chdbPath) {
    await insertThroughFile(store, store.chdbPath, body);
    return;
  }
  const call = callSettings().clickhouse_settings;
  await store.client.insert({
    table: store.table('events'),
    values: Readable.from([body]),
    format: 'TabSeparated',
    clickhouse_settings: { ...call, ...INSERT_SETTINGS },
    columns: [...COLUMNS],
  });
};

/** The TabSeparated body's columns as the `file()` table function reads them (`events`' types). */
const FILE_STRUCTURE =
  "event_id UUID, tenant_id UUID, occurred_at DateTime64(3, \\'UTC\\'), event_type String, campaign_id UUID, email_account_id UUID, " +
  'sequence_step_id UUID, lead_id UUID, message_ref_id UUID, bounce_type String, variant String, detail_rank UInt8, sign Int8';

/** Where the bodies wait for the engine, inside the chDB data folder. */
export const INGEST_DIR = 'ingest';

/** This process's bodies are named `<pid>.<random>-<uuid>.tsv` (client.ts removes any other). */
export const INSERT_BODY_PREFIX = `${process.pid}.${randomUUID().slice(0, 8)}`;

const sqlString = (s: string) => `'${s.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;

/**
 * chDB: the body is written to a file in the data folder and inserted with `insert … select *
 * from file(…)`, then the file is removed. Measured here (bench/src/analytics-ingest-ceiling.ts,
 * bench/README.md "Ingest, layer by layer"): into `events` and its seven views, 1.3-2.6x the
 * rows/s of chdb-node's raw insert of the same bytes (`connection.chdb.rawInsert`, inline data)
 * at about half the CPU per row; the engine reads a file with its parallel parser, inline data
 * through one thread. Not a library's job: chdb-node has no other way to hand the engine a file's worth of
 * rows. A file left by a process killed between the write and the delete is removed by the
 * next process that opens the folder (client.ts, removeStaleInsertBodies).
 */
async function insertThroughFile(store: Store, chdbPath: string, body: Buffer): Promise<void> {
  const file = join(chdbPath, INGEST_DIR, `${INSERT_BODY_PREFIX}-${randomUUID()}.tsv`);
  await writeFile(file, body);
  try {
    await store.client.command({
      query:
        `insert into ${store.table('events')} (${COLUMNS.join(', ')}) settings optimize_on_insert = 0 ` +
        `select * from file(${sqlString(file)}, 'TabSeparated', '${FILE_STRUCTURE}')`,
    });
  } finally {
    await rm(file, { force: true });
  }
}
