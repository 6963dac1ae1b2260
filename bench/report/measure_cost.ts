/**
 * `measureCost`: times single forwards (a one-token target step, g-token
 * target forwards, a draft step, a Medusa heads call, an EAGLE head row),
 * from which the report's c and V(g) come; and
 * {@linkcode measureVerifyCurve}, the same g-token timings at a fixed context.
 *
 * @module
 */

import type { LanguageModel } from "../../mod.ts";
import type { BenchModels } from "./bench_config.ts";
import type { CostModel } from "./results.ts";

/** Runs `fn` once to warm up, then `reps` times; returns the fastest ms. */
async function fastestMs(fn: () => Promise<unknown>, reps: number): Promise<number> {
  await fn();
  let best = Number.POSITIVE_INFINITY;
  for (let i = 0; i < reps; i++) {
    const t0 = performance.now();
    await fn();
    best = Math.min(best, performance.now() - t0);
  }
  return best;
}

/** Fastest ms of an S-token forward of `model` after prefilling `context`, rewinding after each. */
async function stepMs(
  model: LanguageModel,
  context: number[],
  s: number,
  reps: number,
): Promise<number> {
  await model.prefill(context);
  const p = model.kvLength;
  const ids = Array.from({ length: s }, (_, i) => context[(i + 1) % context.length]!); // [S]
  const positions = Array.from({ length: s }, (_, i) => p + i); // [S]
  return await fastestMs(async () => {
    await model.forward(ids, positions, {});
    model.rewind(p);
  }, reps);
}

/**
 * Times single forwards, each after prefilling `prompt` (so attention sees a
 * realistic context), rewinding after every forward; the fastest of `reps`
 * repetitions is kept (other work on the machine only adds time).
 *
 * @param models Target, draft and, when present, Medusa heads and EAGLE head.
 * @param prompt Context token ids.
 * @param verifySizes Token counts S of the timed S-token target forwards (1 is always timed).
 * @param reps Repetitions per timing.
 * @returns The cost model.
 */
export async function measureCost(
  models: BenchModels,
  prompt: number[],
  verifySizes: number[],
  reps: number,
): Promise<CostModel> {
  const verifyMs = await measureVerifyCurve(models.target, prompt, verifySizes, reps);
  const cost: CostModel = {
    targetStepMs: verifyMs["1"]!,
    draftStepMs: await stepMs(models.draft, prompt, 1, reps),
    verifyMs,
  };
  if (models.heads === undefined && models.eagle === undefined) return cost;
  await models.target.prefill(prompt);
  const p = models.target.kvLength;
  const out = await models.target.forward([prompt[0]!], [p], { hidden: true });
  const hidden = out.hidden ?? new Float32Array(models.target.hiddenSize); // [hiddenSize] f32
  models.target.rewind(p);
  if (models.heads !== undefined) {
    const heads = models.heads;
    cost.headsStepMs = await fastestMs(() => heads.forward(hidden), reps);
  }
  if (models.eagle !== undefined) {
    const head = models.eagle;
    const feature = hidden.subarray(0, head.hiddenSize); // [1, hiddenSize] f32
    head.reset();
    cost.eagleStepMs = await fastestMs(async () => {
      await head.forward([prompt[0]!], feature, [p]);
      head.rewind(0);
    }, reps);
  }
  return cost;
}

/**
 * Times g-token target forwards after a context: `verifyMs[g]` for each g
 * (and g = 1), fastest of `reps`. The context is prefilled once and every
 * forward rewound; the sizes take turns within each repetition, so a slow
 * spell of the machine touches every size alike instead of one.
 *
 * @param target The target model.
 * @param context Context token ids.
 * @param sizes Token counts g.
 * @param reps Repetitions per timing.
 * @returns ms per size, keys as strings.
 */
export async function measureVerifyCurve(
  target: LanguageModel,
  context: number[],
  sizes: number[],
  reps: number,
): Promise<Record<string, number>> {
  const all = [...new Set([1, ...sizes])].sort((a, b) => a - b);
  await target.prefill(context);
  const p = target.kvLength;
  const forward = async (s: number): Promise<number> => {
    const ids = Array.from({ length: s }, (_, i) => context[(i + 1) % context.length]!); // [S]
    const positions = Array.from({ length: s }, (_, i) => p + i); // [S]
    const t0 = performance.now();
    await target.forward(ids, positions, {});
    const ms = performance.now() - t0;
    target.rewind(p);
    return ms;
  };
  const best = new Map<number, number>();
  for (const s of all) await forward(s); // warm-up: one forward of each shape
  for (let r = 0; r < reps; r++) {
    for (const s of all) best.set(s, Math.min(best.get(s) ?? Infinity, await forward(s)));
  }
  return Object.fromEntries(all.map((s) => [String(s), best.get(s)!]));
}
