/**
 * Categorical sampling from an (unnormalised) probability vector.
 *
 * @module
 */

import type { Prng } from "./prng.ts";

/**
 * Draws one index with probability proportional to `weights[i]`.
 *
 * @param weights Non-negative weights `[n]` with a positive sum.
 * @param prng The random source.
 * @returns The sampled index.
 *
 * @example
 * ```ts
 * import { Prng, sampleCategorical } from "@specdec/specdec";
 * if (sampleCategorical(new Float64Array([0, 1, 0]), new Prng(1)) !== 1) throw new Error();
 * ```
 */
export function sampleCategorical(weights: ArrayLike<number>, prng: Prng): number {
  let total = 0;
  for (let i = 0; i < weights.length; i++) total += weights[i]!;
  if (!(total > 0) || !Number.isFinite(total)) {
    throw new RangeError(`weights must have a positive finite sum, got ${total}`);
  }
  const u = prng.nextFloat() * total;
  let acc = 0;
  let last = -1;
  for (let i = 0; i < weights.length; i++) {
    const w = weights[i]!;
    if (w <= 0) continue;
    acc += w;
    last = i;
    if (u < acc) return i;
  }
  return last; // rounding: u landed past the accumulated sum
}
