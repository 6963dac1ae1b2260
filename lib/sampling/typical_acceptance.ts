/**
 * Typical acceptance (Cai et al. 2024, Medusa): accept a candidate when the
 * target gives it enough probability relative to the entropy of its
 * distribution. Fast and usually fluent, but LOSSY: the output no longer
 * follows the target distribution exactly.
 *
 * @module
 */

/**
 * Whether a candidate passes the typical-acceptance test
 * `p(x) > min(posteriorThreshold, posteriorAlpha * exp(-H(p)))`.
 *
 * @param p Target probabilities at the parent `[vocab]` f64.
 * @param token The candidate token.
 * @param posteriorThreshold Hard threshold epsilon (Medusa default 0.09).
 * @param posteriorAlpha Entropy-scaled threshold delta (Medusa default 0.3).
 * @returns True when the candidate is accepted.
 *
 * @example
 * ```ts
 * import { typicalAccepts } from "@specdec/specdec";
 * if (!typicalAccepts(new Float64Array([0.5, 0.5]), 0, 0.09, 0.3)) throw new Error();
 * ```
 */
export function typicalAccepts(
  p: Float64Array,
  token: number,
  posteriorThreshold: number,
  posteriorAlpha: number,
): boolean {
  let entropy = 0;
  for (let i = 0; i < p.length; i++) {
    const v = p[i]!;
    if (v > 0) entropy -= v * Math.log(v);
  }
  const threshold = Math.min(posteriorThreshold, posteriorAlpha * Math.exp(-entropy));
  return p[token]! > threshold;
}
