import { randomFillSync } from 'node:crypto';

/**
 * UUID version 7 (RFC 9562 §5.7): 48 bits of Unix milliseconds, then 74 random bits. Job ids
 * made now sort after the ids made before, so a batch's primary-key entries go to the right
 * edge of `jobs_pkey` (one or two leaf pages per 1000 jobs) instead of 1000 random leaves: fewer
 * pages dirtied per enqueue and fewer full-page images in the WAL after each checkpoint
 * (services/queue/README.md, "Measured"). Claims and completions of those jobs then also touch
 * neighbouring pkey pages (each non-HOT update adds a pkey entry).
 *
 * Hand-written because the `uuid` package's current major (14) is ESM-only, and this service
 * compiles to CommonJS and runs under jest as CommonJS; node:crypto has no v7 and PostgreSQL
 * gets `uuidv7()` only in version 18. Random bits come from a pooled buffer like Node's own
 * `randomUUID` (one `randomFillSync` per 256 ids).
 */
const POOL_IDS = 256;
const pool = Buffer.alloc(POOL_IDS * 10);
let next = POOL_IDS;
const HEX = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'));

export function uuid7(now = Date.now()): string {
  if (next === POOL_IDS) {
    randomFillSync(pool);
    next = 0;
  }
  const r = next++ * 10;
  // 48-bit big-endian milliseconds.
  const hi = Math.floor(now / 0x1_0000_0000);
  const lo = now >>> 0;
  const b = [
    (hi >>> 8) & 0xff, hi & 0xff, (lo >>> 24) & 0xff, (lo >>> 16) & 0xff, (lo >>> 8) & 0xff, lo & 0xff,
    0x70 | (pool[r] & 0x0f), pool[r + 1], // version 7 + rand_a
    0x80 | (pool[r + 2] & 0x3f), pool[r + 3], // variant 10 + rand_b
    pool[r + 4], pool[r + 5], pool[r + 6], pool[r + 7], pool[r + 8], pool[r + 9],
  ];
  return (
    HEX[b[0]] + HEX[b[1]] + HEX[b[2]] + HEX[b[3]] + '-' + HEX[b[4]] + HEX[b[5]] + '-' + HEX[b[6]] + HEX[b[7]] + '-' +
    HEX[b[8]] + HEX[b[9]] + '-' + HEX[b[10]] + HEX[b[11]] + HEX[b[12]] + HEX[b[13]] + HEX[b[14]] + HEX[b[15]]
  );
}
