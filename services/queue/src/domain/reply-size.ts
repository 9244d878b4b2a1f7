import { listReplyBytes, type PageBudget } from '@penguinmails/service-kit';
import type { ServerDeps } from '../deps';
import type { JobLogRow, JobRow } from '../db/prisma';

const json = (v: unknown): number => (v === null || v === undefined ? 0 : Buffer.byteLength(JSON.stringify(v)));
const text = (v: string | null | undefined): number => (v ? Buffer.byteLength(v) : 0);

/**
 * Upper bounds of rows' encoded sizes in a reply: a google.protobuf.Struct takes at most ~3.7x
 * its JSON text (an array of small numbers: db/claim-jobs.ts fitCte), so 4x; the short string
 * fields (ids, names, keys ≤ 200 characters each) and timestamps in a fixed allowance.
 */
export const JOB_BYTES = (r: JobRow): number => 4 * (json(r.payload) + json(r.output)) + text(r.lastError) + 1536;
export const JOB_LOG_BYTES = (r: JobLogRow): number => 4 * json(r.data) + text(r.message) + 256;
export const SCHEDULE_BYTES = (r: { payload: unknown }): number => 4 * json(r.payload) + 1536;

/**
 * A list page's budget for rows measured by `bytesOf` (the kit's listPage `budget`). grpc-js
 * refuses to send a message over GRPC_MAX_SEND_BYTES (RESOURCE_EXHAUSTED, "Sent message larger
 * than max"), and a page of 500 jobs with 64 KiB payloads and outputs is far over the 4 MiB
 * default: a caller could not page past such rows. With the budget a page holds fewer rows than
 * page_size and next_page_token goes on from the last one.
 */
export const pageBudget = <R>(deps: Pick<ServerDeps, 'grpc'>, bytesOf: (row: R) => number): PageBudget<R> => ({ maxBytes: listReplyBytes(deps.grpc), bytesOf });
