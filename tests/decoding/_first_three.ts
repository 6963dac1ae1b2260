/**
 * The end-to-end sampling check shared by the decoder tests: the exact joint distribution of the
 * first three generated tokens under a synthetic target, and a decoder's histogram of them over
 * seeded runs (compared with a chi-square test by the callers).
 *
 * @module
 */

import type { Decoder } from "../../lib/decoding/decoder.ts";
import { LogitsProcessor, type SamplingOptions } from "../../lib/sampling/logits_processor.ts";
import type { SyntheticLM } from "./_synthetic_lm.ts";

/** Exact joint probabilities of the first three tokens after `prompt` `[V^3]`. */
export function exactFirstThree(
  lm: SyntheticLM,
  sampling: SamplingOptions,
  prompt: readonly number[],
): Float64Array {
  const V = lm.vocabSize;
  const proc = new LogitsProcessor(sampling);
  const n = prompt.length;
  const ctx: Array<[number, number]> = prompt.map((t, i) => [t, i]);
  const out = new Float64Array(V ** 3);
  const p1 = proc.probs(lm.logitsFor(ctx));
  for (let a = 0; a < V; a++) {
    const p2 = proc.probs(lm.logitsFor([...ctx, [a, n]]));
    for (let b = 0; b < V; b++) {
      const p3 = proc.probs(lm.logitsFor([...ctx, [a, n], [b, n + 1]]));
      for (let c = 0; c < V; c++) out[a * V * V + b * V + c] = p1[a]! * p2[b]! * p3[c]!;
    }
  }
  return out;
}

/**
 * Counts of the first three tokens over `draws` runs seeded 0..draws-1 `[V^3]`; `each` sees every
 * run's result (for extra bookkeeping).
 */
export async function firstThreeHistogram(
  dec: Decoder,
  prompt: readonly number[],
  V: number,
  draws: number,
  each?: (r: Awaited<ReturnType<Decoder["generate"]>>) => void,
): Promise<number[]> {
  const counts = new Array(V ** 3).fill(0);
  for (let seed = 0; seed < draws; seed++) {
    const r = await dec.generate([...prompt], { seed, maxNewTokens: 4 });
    const [a, b, c] = r.tokens;
    counts[a! * V * V + b! * V + c!]++;
    each?.(r);
  }
  return counts;
}
