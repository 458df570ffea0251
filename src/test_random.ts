/**
 * Seeded pseudo-random numbers for tests, so that a failure reproduces from
 * its seed.
 * @module
 */

/**
 * mulberry32 (Tommy Ettinger's 32-bit generator): a function returning
 * numbers in [0, 1), the same sequence for the same seed.
 * @param seed any integer (taken modulo 2^32)
 * @example
 * ```ts
 * const r = rng(42);
 * const x = r(); // 0 <= x < 1
 * ```
 */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
