/**
 * Draws without replacement, for sampled tree candidates (EAGLE's dynamic trees, Medusa's
 * trees): each draw's distribution is what exact sibling verification needs.
 *
 * @module
 */

import type { Prng } from "./prng.ts";
import { sampleCategorical } from "./sample_categorical.ts";

/**
 * Draws up to `count` distinct tokens: each from `probs` with the tokens drawn before removed
 * and the rest renormalised; stops early when no mass is left. Verified as siblings with each
 * draw's distribution (`acceptSiblings`), the target's distribution is kept exactly.
 *
 * @param probs Probabilities `[V]` f64 (a positive sum).
 * @param count Most draws.
 * @param prng The random source.
 * @returns Each token with the distribution `[V]` f64 it was drawn from.
 *
 * @example Two distinct tokens, the second from the renormalised rest
 * ```ts ignore
 * import { drawWithoutReplacement } from "./draw_without_replacement.ts";
 * import { Prng } from "./prng.ts";
 * const [a, b] = drawWithoutReplacement(new Float64Array([0.5, 0.5, 0]), 2, new Prng(1));
 * if (a!.token === b!.token || b!.q[a!.token] !== 0) throw new Error("unexpected");
 * ```
 */
export function drawWithoutReplacement(
  probs: Float64Array,
  count: number,
  prng: Prng,
): { token: number; q: Float64Array }[] {
  const out: { token: number; q: Float64Array }[] = [];
  let q = probs;
  for (let i = 0; i < count; i++) {
    let mass = 0;
    for (let t = 0; t < q.length; t++) mass += q[t]!;
    if (!(mass > 1e-12)) break;
    const token = sampleCategorical(q, prng);
    out.push({ token, q });
    if (i + 1 === count) break;
    const next = new Float64Array(q.length); // [V] f64
    const rest = mass - q[token]!;
    if (!(rest > 1e-12)) break;
    for (let t = 0; t < q.length; t++) next[t] = t === token ? 0 : q[t]! / rest;
    q = next;
  }
  return out;
}
