import { queueV1 } from '@penguinmails/contracts';
import type { DeepPartial, QueueApi } from './client';
import { PenguinMailsError } from './errors';

export interface EnqueueManyOptions {
  tenantId: string;
  jobs: DeepPartial<queueV1.NewJob>[];
  /** Jobs per EnqueueJobs call; default (and the service's maximum, QUEUE_BATCH_MAX) 1000. */
  batchSize?: number;
  /** EnqueueJobs calls in flight at once; default 4. 1 sends the batches one after another. */
  inFlight?: number;
}

/** One result per job of the request, in its order. */
export type EnqueueManyResult = queueV1.EnqueuedJob[];

/**
 * An enqueue of more jobs than one call takes failed part-way: the batches before `failedBatch`
 * that completed are enqueued (their results are in `results`, `undefined` for jobs not
 * enqueued), the rest was not sent or was refused. `cause` is the failure of the first batch
 * that failed; its `jobs[i]` field paths are rewritten to the index in the whole request.
 * Jobs with idempotency keys can simply be sent again: those enqueued already answer EXISTING.
 */
export class EnqueueManyError extends Error {
  override name = 'EnqueueManyError';
  constructor(
    message: string,
    readonly results: (queueV1.EnqueuedJob | undefined)[],
    readonly failedBatch: { index: number; firstJob: number; jobs: number },
    override readonly cause: unknown,
  ) {
    super(message, { cause });
  }
}

/**
 * Enqueues any number of one tenant's jobs as EnqueueJobs calls of `batchSize`, `inFlight` of
 * them at once. Each call is one statement and one commit in the queue service; with several
 * in flight, the service works on one batch while the next is encoded and on the wire, and
 * PostgreSQL flushes the WAL of concurrent commits together, so one producer is not held to
 * one round trip per batch (bench/README.md, "Cheaper enqueue, and enqueue in flight": the rates at 1 and 4).
 *
 * Order: jobs of different batches are not ordered among themselves (batches commit in any
 * order); within a batch they are inserted in order. Stops sending at the first failure and
 * throws {@link EnqueueManyError} once the calls in flight have settled.
 */
export async function enqueueMany(queue: Pick<QueueApi, 'enqueueJobs'>, opts: EnqueueManyOptions): Promise<EnqueueManyResult> {
  const size = opts.batchSize ?? 1000;
  const lanes = opts.inFlight ?? 4;
  if (!Number.isInteger(size) || size < 1) throw new RangeError(`batchSize must be a whole number ≥ 1, got ${size}`);
  if (!Number.isInteger(lanes) || lanes < 1) throw new RangeError(`inFlight must be a whole number ≥ 1, got ${lanes}`);
  const jobs = opts.jobs;
  const batches = Math.ceil(jobs.length / size);
  const results: (queueV1.EnqueuedJob | undefined)[] = new Array(jobs.length).fill(undefined);
  let next = 0;
  // The first failed batch (lowest index); an object so the lanes' writes are not narrowed away.
  const state: { failure?: { index: number; error: unknown } } = {};

  const lane = async () => {
    while (state.failure === undefined && next < batches) {
      const index = next++;
      const first = index * size;
      try {
        const res = await queue.enqueueJobs({ tenantId: opts.tenantId, jobs: jobs.slice(first, first + size) });
        res.results.forEach((r, k) => (results[first + k] = r));
      } catch (error) {
        const seen = state.failure as { index: number } | undefined; // another lane may have set it during the await
        if (!seen || index < seen.index) state.failure = { index, error };
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(lanes, batches) }, lane));

  const failure = state.failure;
  if (failure) {
    const first = failure.index * size;
    const count = Math.min(size, jobs.length - first);
    const done = results.filter((r) => r !== undefined).length;
    const cause = shift(failure.error, first);
    throw new EnqueueManyError(
      `enqueueMany: the batch of jobs[${first}..${first + count - 1}] failed (${describe(cause)}); ${done} of ${jobs.length} jobs were enqueued (see .results)`,
      results,
      { index: failure.index, firstJob: first, jobs: count },
      cause,
    );
  }
  return results as EnqueueManyResult;
}

/** The batch's `jobs[i]` field paths, named as the index in the whole request (in place, once). */
function shift(error: unknown, first: number): unknown {
  if (!(error instanceof PenguinMailsError) || first === 0) return error;
  for (const v of error.fieldViolations) v.field = v.field.replace(/^jobs\[(\d+)\]/, (_, i: string) => `jobs[${Number(i) + first}]`);
  return error;
}

function describe(e: unknown): string {
  if (e instanceof PenguinMailsError) return `${e.codeName}: ${e.fieldViolations.map((v) => `${v.field} ${v.description}`).join('; ') || e.message}`;
  return e instanceof Error ? e.message : String(e);
}
