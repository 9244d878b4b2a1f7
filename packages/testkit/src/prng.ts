/**
 * mulberry32: a small seeded PRNG, for test and bench data that is the same on every run (a
 * seed, not Math.random). Returns floats in [0, 1). (The SDK's demo keeps its own copy: the SDK
 * does not depend on the testkit.)
 */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
