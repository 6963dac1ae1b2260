/**
 * The residual distribution of rejection sampling.
 *
 * @module
 */

/**
 * `norm(max(0, p - q))` in place into a new array; `q === null` stands for a
 * deterministic draft (a point mass on `token`). When the residual has no mass
 * (p == q up to rounding) `p` itself is returned, which is then exact.
 *
 * @param p Target probabilities `[vocab]` f64.
 * @param q Draft probabilities `[vocab]` f64, or `null` for a point mass on `token`.
 * @param token The rejected draft token (used when `q` is null).
 * @returns The normalised residual `[vocab]` f64.
 */
export function residual(p: Float64Array, q: Float64Array | null, token: number): Float64Array {
  const out = new Float64Array(p.length); // [vocab] f64
  let sum = 0;
  if (q === null) {
    for (let i = 0; i < p.length; i++) {
      const v = i === token ? 0 : p[i]!;
      out[i] = v;
      sum += v;
    }
  } else {
    for (let i = 0; i < p.length; i++) {
      const v = p[i]! - q[i]!;
      if (v > 0) {
        out[i] = v;
        sum += v;
      }
    }
  }
  if (!(sum > 0)) return p.slice();
  for (let i = 0; i < out.length; i++) out[i] = out[i]! / sum;
  return out;
}

/**
 * Acceptance test `u < min(1, p(x) / q(x))` written without a division.
 *
 * @param u A uniform draw in `[0, 1)`.
 * @param px Target probability of the draft token.
 * @param qx Draft probability of the draft token (`1` for a deterministic draft).
 * @returns Whether the draft token is accepted.
 */
export function acceptsDraft(u: number, px: number, qx: number): boolean {
  return u * qx < px;
}
