/**
 * Deterministic test data shared by the model tests.
 *
 * @module
 */

/** Deterministic pseudo-random values in [-1, 1) (xorshift32 from `seed`). */
export function values(n: number, seed: number): Float32Array {
  let s = seed >>> 0 || 1;
  return Float32Array.from({ length: n }, () => {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    return ((s >>> 0) / 2 ** 31) - 1;
  });
}
