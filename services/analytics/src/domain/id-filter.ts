/**
 * A Bloom filter of event ids: "certainly not stored" or "maybe stored", in ~14.4 bits per id
 * (1 in 1,000 false "maybe" at capacity; 10M ids take 18 MB).
 *
 * Hand-written rather than taken from npm: the writer asks it about every event it stores, so
 * it must hash a UUID's own 128 bits without building strings or objects, and be filled from
 * ClickHouse's RowBinary UUIDs as well as from UUID text. The packages looked at (bloom-filters,
 * bloomfilter) hash strings through generic hash functions and allocate per call. The filter is
 * ~60 lines of well-known arithmetic (Kirsch-Mitzenmacher double hashing over a murmur3
 * finalizer), tested in test/event-writer.test.ts.
 *
 * Never wrong in the direction that matters: an id that was added is always "maybe". A "maybe"
 * for an id never added only costs a lookup in event_keys.
 */
export class IdFilter {
  private readonly bits: Uint32Array;
  private readonly mask: number;
  private readonly k = 10;
  private count = 0;

  /** Room for `capacity` ids at the target false-positive rate; rounded up to a power of two bits. */
  constructor(readonly capacity: number) {
    let m = 1 << 20;
    while (m < capacity * 14.4 && m < 2 ** 31) m *= 2;
    this.bits = new Uint32Array(m / 32);
    this.mask = m - 1;
  }

  get size(): number {
    return this.count;
  }

  /** More ids than it was sized for: its false-positive rate climbs; the writer rebuilds it larger. */
  get full(): boolean {
    return this.count > this.capacity;
  }

  /** A UUID in text form (`xxxxxxxx-xxxx-...`, either case). */
  addText(uuid: string): void {
    this.addWords(...words(uuid));
  }

  mightHaveText(uuid: string): boolean {
    return this.mightHaveWords(...words(uuid));
  }

  /**
   * The 16 bytes of a UUID as ClickHouse's RowBinary writes it: two little-endian UInt64, the
   * high half first, i.e. bytes 0-7 are hex digits 0-15 reversed, bytes 8-15 digits 16-31 reversed.
   */
  addRowBinary(buf: Uint8Array, offset: number): void {
    const le = (o: number) => (buf[o] | (buf[o + 1] << 8) | (buf[o + 2] << 16) | (buf[o + 3] << 24)) >>> 0;
    this.addWords(le(offset + 4), le(offset), le(offset + 12), le(offset + 8));
  }

  private addWords(w0: number, w1: number, w2: number, w3: number): void {
    const [h1, h2] = hashes(w0, w1, w2, w3);
    for (let i = 0; i < this.k; i++) {
      const bit = (h1 + Math.imul(i, h2)) & this.mask;
      this.bits[bit >>> 5] |= 1 << (bit & 31);
    }
    this.count++;
  }

  private mightHaveWords(w0: number, w1: number, w2: number, w3: number): boolean {
    const [h1, h2] = hashes(w0, w1, w2, w3);
    for (let i = 0; i < this.k; i++) {
      const bit = (h1 + Math.imul(i, h2)) & this.mask;
      if ((this.bits[bit >>> 5] & (1 << (bit & 31))) === 0) return false;
    }
    return true;
  }
}

/** Hex digit values by char code (-1: not a hex digit). */
const HEX = new Int8Array(128).fill(-1);
for (let i = 0; i < 10; i++) HEX[48 + i] = i;
for (let i = 0; i < 6; i++) HEX[65 + i] = HEX[97 + i] = 10 + i;

/**
 * The four 32-bit words of a UUID's text, most significant first, read digit by digit without
 * slicing (this runs for every stored event: no allocation but the result). Dashes are skipped.
 */
function words(uuid: string): [number, number, number, number] {
  const w = [0, 0, 0, 0] as [number, number, number, number];
  let digit = 0;
  for (let i = 0; i < uuid.length && digit < 32; i++) {
    const v = HEX[uuid.charCodeAt(i) & 127];
    if (v < 0) continue;
    const k = digit >>> 3;
    w[k] = ((w[k] << 4) | v) >>> 0;
    digit++;
  }
  return w;
}

/** murmur3's 32-bit finalizer. */
function fmix(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** Two independent-enough 32-bit hashes of 128 bits (ids need not be random: tests use 0000…0001). */
function hashes(w0: number, w1: number, w2: number, w3: number): [number, number] {
  const a = fmix(w0 ^ fmix(w1 ^ fmix(w2 ^ fmix(w3 ^ 0x9747b28c))));
  const b = fmix(w3 ^ fmix(w2 ^ fmix(w1 ^ fmix(w0 ^ 0x5bd1e995))));
  return [a, b | 1];
}
