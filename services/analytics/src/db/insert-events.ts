import { callSettings } from './call-settings';
import type { Store } from './client';

/** One email_events row as sent in JSONEachRow (absent ids are the nil UUID). */
export interface EventRow {
  event_id: string;
  tenant_id: string;
  /** `YYYY-MM-DD hh:mm:ss.mmm`, UTC */
  occurred_at: string;
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
  /** The ReplacingMergeTree version: the copy of an event that knows most wins (domain/events.ts). */
  detail_rank: number;
}

/** The signature of {@link insertEvents}, so a caller (the consumer, a test) can wrap it. */
export type InsertEvents = (store: Store, rows: EventRow[]) => Promise<void>;

/**
 * One INSERT for the whole batch. ClickHouse writes a block atomically per partition (month),
 * so a batch spanning months that fails half way may leave some months stored; the caller's
 * retry is harmless since rows are keyed on event_id.
 */
export const insertEvents: InsertEvents = async (store, rows) => {
  if (rows.length === 0) return;
  await store.client.insert({
    table: store.table('email_events'),
    values: rows,
    format: 'JSONEachRow',
    ...callSettings(),
    columns: [
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
    ],
  });
};
