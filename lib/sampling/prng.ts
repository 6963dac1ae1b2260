/**
 * A small, fast, seeded pseudo-random generator (xoshiro128**), so every
 * sampled generation is reproducible from its seed.
 *
 * @module
 */

/** Mixes a 32-bit state one splitmix32 step; used to expand a seed into state. */
function splitmix32(state: number): [number, number] {
  const next = (state + 0x9e3779b9) | 0;
  let z = next;
  z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
  z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
  z ^= z >>> 16;
  return [next, z >>> 0];
}

/**
 * xoshiro128** seeded through splitmix32: 128 bits of state, period 2^128 - 1.
 * The same seed always yields the same sequence on every platform.
 *
 * @example Reproducible draws
 * ```ts
 * import { Prng } from "@specdec/specdec";
 * const a = new Prng(42), b = new Prng(42);
 * if (a.nextFloat() !== b.nextFloat()) throw new Error("not reproducible");
 * ```
 */
export class Prng {
  /** State words `[4]` u32. */
  #s = new Uint32Array(4);

  /**
   * Seeds the generator.
   *
   * @param seed Any safe integer (both 32-bit halves are used); default 0.
   */
  constructor(seed: number = 0) {
    if (!Number.isSafeInteger(seed)) {
      throw new TypeError(`seed must be a safe integer, got ${seed}`);
    }
    const lo = seed >>> 0;
    const hi = Math.floor(seed / 4294967296) >>> 0;
    let st = (lo ^ Math.imul(hi, 0x27d4eb2d)) | 0;
    for (let i = 0; i < 4; i++) {
      const [next, out] = splitmix32(st);
      st = next;
      this.#s[i] = out;
    }
    if (this.#s[0] === 0 && this.#s[1] === 0 && this.#s[2] === 0 && this.#s[3] === 0) {
      this.#s[0] = 1; // the all-zero state is a fixed point
    }
  }

  /**
   * Draws 32 random bits.
   *
   * @returns The next 32-bit unsigned integer.
   */
  nextUint32(): number {
    const s = this.#s;
    const s0 = s[0]!, s1 = s[1]!, s2 = s[2]!, s3 = s[3]!;
    const r = Math.imul(s1, 5);
    const rot = (r << 7) | (r >>> 25);
    const result = Math.imul(rot, 9) >>> 0;
    const t = s1 << 9;
    s[2] = s2 ^ s0;
    s[3] = s3 ^ s1;
    s[1] = s1 ^ s[2]!;
    s[0] = s0 ^ s[3]!;
    s[2] = s[2]! ^ t;
    s[3] = (s[3]! << 11) | (s[3]! >>> 21);
    return result;
  }

  /**
   * Draws a uniform float.
   *
   * @returns A uniform float in `[0, 1)` with 53 random bits.
   */
  nextFloat(): number {
    const hi = this.nextUint32() >>> 5; // 27 bits
    const lo = this.nextUint32() >>> 6; // 26 bits
    return (hi * 67108864 + lo) / 9007199254740992;
  }
}
