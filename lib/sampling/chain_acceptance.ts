/**
 * Speculative sampling over a chain of drafted tokens (Leviathan et al. 2023;
 * Chen et al. 2023): lossless, the output follows the target distribution.
 *
 * @module
 */

import { acceptsDraft, residual } from "./_residual.ts";
import type { Prng } from "./prng.ts";
import { sampleCategorical } from "./sample_categorical.ts";

/** Outcome of verifying one drafted chain. */
export interface ChainVerdict {
  /** Number of drafted tokens accepted, `0..K`. */
  accepted: number;
  /** The token emitted after the accepted ones: a residual sample on rejection, else the bonus token. */
  token: number;
}

/**
 * Verifies `K` drafted tokens against the target: draft `i` is accepted with
 * probability `min(1, p_i(x) / q_i(x))`; at the first rejection the next token
 * is drawn from `norm(max(0, p_i - q_i))`; when all `K` are accepted a bonus
 * token is drawn from `p_K`.
 *
 * @param p Target probabilities, `K + 1` rows `[vocab]` f64 (row `i` scores draft `i`).
 * @param q Draft probabilities, `K` rows `[vocab]` f64; `null` for a deterministic draft
 *   (prompt lookup, top-1 heads): accepted with probability `p_i(x)`.
 * @param drafts The `K` drafted tokens.
 * @param prng The random source.
 * @returns How many were accepted and the next token.
 *
 * @example All drafts accepted when p = q
 * ```ts
 * import { acceptChain, Prng } from "@specdec/specdec";
 * const d = new Float64Array([0, 1]);
 * const v = acceptChain([d, d], [d], [1], new Prng(0));
 * if (v.accepted !== 1 || v.token !== 1) throw new Error();
 * ```
 */
export function acceptChain(
  p: readonly Float64Array[],
  q: readonly (Float64Array | null)[],
  drafts: ArrayLike<number>,
  prng: Prng,
): ChainVerdict {
  const k = drafts.length;
  if (p.length !== k + 1) throw new RangeError(`p must have ${k + 1} rows, got ${p.length}`);
  if (q.length !== k) throw new RangeError(`q must have ${k} rows, got ${q.length}`);
  for (let i = 0; i < k; i++) {
    const x = drafts[i]!;
    const pi = p[i]!;
    const qi = q[i]!;
    const qx = qi === null ? 1 : qi[x]!;
    if (acceptsDraft(prng.nextFloat(), pi[x]!, qx)) continue;
    return { accepted: i, token: sampleCategorical(residual(pi, qi, x), prng) };
  }
  return { accepted: k, token: sampleCategorical(p[k]!, prng) };
}
