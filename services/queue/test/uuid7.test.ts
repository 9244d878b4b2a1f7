import { uuid7 } from '../src/db/uuid7';

const V7 = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

describe('uuid7 (job ids)', () => {
  it('makes RFC 9562 version-7 ids, unique, whose first 48 bits are the milliseconds given', () => {
    const ms = Date.UTC(2026, 10, 27, 1, 30, 0, 123);
    const ids = Array.from({ length: 5000 }, () => uuid7(ms));
    for (const id of ids) expect(id).toMatch(V7);
    expect(new Set(ids).size).toBe(ids.length);
    expect(parseInt(ids[0].replace(/-/g, '').slice(0, 12), 16)).toBe(ms);
  });

  it('sorts ids of a later millisecond after those of an earlier one (as PostgreSQL compares uuids: bytewise)', () => {
    const base = Date.UTC(2030, 0, 1);
    const ids = [0, 1, 2, 255, 256, 65_536, 2 ** 32, 2 ** 40].map((d) => uuid7(base + d));
    expect([...ids].sort()).toEqual(ids);
    // Milliseconds past 2^32 (the split between the two 32-bit halves) still encode exactly.
    expect(parseInt(ids[7].replace(/-/g, '').slice(0, 12), 16)).toBe(base + 2 ** 40);
  });
});
