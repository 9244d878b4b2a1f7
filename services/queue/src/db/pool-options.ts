import type { PoolConfig } from 'pg';

/**
 * Settings of every connection of this service's pool (main.ts; the tests' harness too).
 *
 * `plan_cache_mode = force_custom_plan`: every named statement (db/*.ts) is still parsed once
 * per connection, but planned at each execution with its values. PostgreSQL otherwise switches
 * a named statement to a cached generic plan after five executions when that plan costs no more
 * than the custom ones, and keeps it until something invalidates it (an ANALYZE, a DDL). The
 * jobs table grows from empty to millions of rows faster than ANALYZE runs (never, with
 * autovacuum off): a plan cached while it held a few rows stays a seq scan. Seen in
 * bench:queue-sdk-worker: CompleteJobs' generic plan, made on a table of 2 estimated rows,
 * was `Nested Loop → Materialize → Seq Scan on jobs` (every job read once per id of the batch,
 * 95-100 ms per call of 50 at ~60k rows; auto_explain), which made a round of that bench 5-7x
 * slower than the others. A plan costs ~0.1-0.5 ms per call here; the lean claim function
 * already planned each call (force_custom_plan on the function, migration 20261229000000).
 */
export const QUEUE_POOL_OPTIONS: Partial<PoolConfig> = { options: '-c plan_cache_mode=force_custom_plan' };
