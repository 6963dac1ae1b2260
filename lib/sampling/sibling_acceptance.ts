/**
 * Recursive rejection sampling across the children of one tree node
 * (SpecInfer's multi-step speculative sampling; Medusa/EAGLE "exact" trees).
 *
 * @module
 */

import { acceptsDraft, residual } from "./_residual.ts";
import type { Prng } from "./prng.ts";
import { sampleCategorical } from "./sample_categorical.ts";

/** Outcome of verifying the children of one node. */
export interface SiblingVerdict {
  /** Index (into `candidates`) of the accepted child, or `-1` when all were rejected. */
  index: number;
  /** The accepted child's token, or the token sampled from the final residual. */
  token: number;
}

/**
 * Tries the candidates in order: candidate `i` is accepted with probability
 * `min(1, p'(x_i) / q_i(x_i))`, where `p'` starts as `p` and becomes
 * `norm(max(0, p' - q_i))` after each rejection; if every candidate is
 * rejected the token is drawn from the last `p'`. The emitted token follows
 * `p` exactly when each `x_i` was drawn independently from `q_i`, or when the
 * candidates are deterministic (`q_i = null`, a point mass: then `p'` is `p`
 * with the rejected tokens removed).
 *
 * @param p Target probabilities at the parent `[vocab]` f64.
 * @param candidates Child tokens, in the order they are tried.
 * @param q Draft distribution of each candidate `[vocab]` f64, or `null` for a deterministic one.
 * @param prng The random source.
 * @returns The accepted child, or `-1` and a residual sample.
 *
 * @example A certain child is always accepted
 * ```ts
 * import { acceptSiblings, Prng } from "@specdec/specdec";
 * const v = acceptSiblings(new Float64Array([0, 0, 1]), [1, 2], [null, null], new Prng(3));
 * if (v.index !== 1 || v.token !== 2) throw new Error();
 * ```
 */
export function acceptSiblings(
  p: Float64Array,
  candidates: ArrayLike<number>,
  q: readonly (Float64Array | null)[],
  prng: Prng,
): SiblingVerdict {
  if (q.length !== candidates.length) {
    throw new RangeError(`q must have ${candidates.length} rows, got ${q.length}`);
  }
  let cur = p;
  for (let i = 0; i < candidates.length; i++) {
    const x = candidates[i]!;
    const qi = q[i]!;
    const qx = qi === null ? 1 : qi[x]!;
    if (acceptsDraft(prng.nextFloat(), cur[x]!, qx)) return { index: i, token: x };
    cur = residual(cur, qi, x);
  }
  return { index: -1, token: sampleCategorical(cur, prng) };
}
