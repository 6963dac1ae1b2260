/**
 * Greedy token choice with a fixed tie rule.
 *
 * @module
 */

/**
 * Index of the largest value; ties go to the lowest index, NaN never wins.
 *
 * @param values Scores `[n]` (logits or probabilities), `n >= 1`.
 * @returns The index of the maximum.
 *
 * @example
 * ```ts
 * import { argmax } from "@specdec/specdec";
 * if (argmax(new Float32Array([1, 3, 3])) !== 1) throw new Error("tie rule");
 * ```
 */
export function argmax(values: ArrayLike<number>): number {
  let best = 0;
  let bestValue = -Infinity;
  for (let i = 0; i < values.length; i++) {
    const v = values[i]!;
    if (v > bestValue) {
      bestValue = v;
      best = i;
    }
  }
  return best;
}
