/**
 * `speedupModel`: the report's model of a speculative step, S = E / (K·c + V),
 * next to the measured speedup: c from the draft (or heads) step, V(g) from
 * timed g-token target forwards, E from the acceptance α (chains) or the
 * measured τ (trees). Runs with a prompt-lookup branch verify a varying number
 * of tokens per step: their V is at the runs' measured mean g and their E is τ.
 *
 * @module
 */

import type { BenchmarkResults, CostModel, RunFilter, SpeedupModel } from "./results.ts";
import { matches, summarize } from "./summarize.ts";

/** c = draft step / target step. */
export function costC(cost: CostModel): number {
  return cost.targetStepMs > 0 ? cost.draftStepMs / cost.targetStepMs : 0;
}

/**
 * V(S) = time of an S-token target forward / a 1-token forward, from the
 * nearest measured S at or above the one asked (a tree of S nodes costs at
 * least a chain of S tokens).
 */
export function costV(cost: CostModel, tokens: number): number | undefined {
  const base = cost.verifyMs["1"] ?? cost.targetStepMs;
  const sizes = Object.keys(cost.verifyMs).map(Number).filter((s) => s >= tokens).sort((a, b) =>
    a - b
  );
  const s = sizes[0];
  if (s === undefined || !(base > 0)) return undefined;
  return (cost.verifyMs[String(s)] ?? 0) / base;
}

/**
 * V at a fractional g (a mean of verified tokens per step): linear between the
 * measured sizes around it, extrapolated from the two largest beyond them, and
 * V(1) = 1 at or below one token.
 *
 * @param cost The cost model.
 * @param g Mean tokens per target forward, `>= 1`.
 * @returns V(g), or `undefined` without a measured 1-token forward.
 */
export function costVMean(cost: CostModel, g: number): number | undefined {
  const base = cost.verifyMs["1"] ?? cost.targetStepMs;
  if (!(base > 0)) return undefined;
  const points = Object.entries(cost.verifyMs).map(([s, ms]) => [Number(s), ms / base] as const)
    .filter(([s]) => s >= 1).sort((a, b) => a[0] - b[0]);
  if (points.length === 0 || g <= 1) return 1;
  const exact = points.find(([s]) => s === g);
  if (exact !== undefined) return exact[1];
  let lo = points.findLast(([s]) => s < g);
  let hi = points.find(([s]) => s > g);
  if (hi === undefined) {
    // Beyond the largest measured size: the slope of the last two.
    hi = points.at(-1)!;
    lo = points.at(-2);
    if (lo === undefined) return hi[1] * g / hi[0];
  }
  if (lo === undefined) lo = [1, 1];
  return lo[1] + (hi[1] - lo[1]) * (g - lo[0]) / (hi[0] - lo[0]);
}

/**
 * Mean tokens fed to the target per verification step over the runs of `filter`, root
 * included; `undefined` when a run lacks the counts (results written before them).
 *
 * @param results The benchmark results.
 * @param filter The runs.
 * @returns The pooled mean g.
 */
export function meanVerified(results: BenchmarkResults, filter: RunFilter): number | undefined {
  let tokens = 0, steps = 0;
  for (const r of results.runs) {
    if (!matches(r, filter)) continue;
    if (r.verifiedTokens === undefined || r.steps === undefined) return undefined;
    tokens += r.verifiedTokens;
    steps += r.steps;
  }
  return steps > 0 ? tokens / steps : undefined;
}

/** E = (1 - α^(K+1)) / (1 - α): expected tokens per step with K drafts of acceptance α. */
export function expectedTokens(alpha: number, k: number): number {
  if (alpha >= 1) return k + 1;
  return (1 - alpha ** (k + 1)) / (1 - alpha);
}

/**
 * The speedup model of a speculative configuration next to its measurement.
 *
 * @param results The benchmark results (cost model, runs).
 * @param filter A speculative, lookup, Medusa or EAGLE configuration (its
 *   `weights` also picks the autoregressive runs measured against; the cost
 *   model is the f32 one).
 * @returns c, V, E, predicted and measured speedup and efficiency, or
 *   `undefined` without runs of this configuration or of autoregressive.
 */
export function speedupModel(
  results: BenchmarkResults,
  filter: RunFilter,
): SpeedupModel | undefined {
  const s = summarize(results, filter);
  // Against the autoregressive runs of the same phase and prompts (paired_baseline.ts).
  const measured = s?.speedup;
  if (s === undefined || measured === undefined) return undefined;
  const cost = results.cost;
  const perTarget = (ms: number | undefined): number =>
    ms !== undefined && cost.targetStepMs > 0 ? ms / cost.targetStepMs : 0;
  let c: number, v: number | undefined, e: number, draftSteps: number;
  if (filter.method === "medusa") {
    c = perTarget(cost.headsStepMs);
    v = costV(cost, filter.tree ?? 1);
    e = s.tau;
    draftSteps = 1;
  } else if (filter.method === "eagle") {
    // A tree verifies its root and nodes; a chain its K drafts and the last accepted token.
    const tree = filter.tree ?? 0;
    const k = filter.k ?? 1;
    c = perTarget(cost.eagleStepMs);
    v = costV(cost, tree > 0 ? tree + 1 : k + 1);
    e = tree > 0 ? s.tau : expectedTokens(s.alpha ?? 0, k);
    draftSteps = draftForwardsPerStep(results, filter);
  } else {
    const k = filter.k ?? 1;
    c = filter.method === "speculative" ? costC(cost) : 0;
    v = costV(cost, k + 1);
    e = expectedTokens(s.alpha ?? 0, k);
    draftSteps = k;
  }
  if ((filter.lookup ?? 0) > 0) {
    // A lookup branch joins the draft when the context has a match, so the verified size varies
    // step by step and the chain's geometric E does not hold: V at the measured mean g, E = τ.
    const g = meanVerified(results, filter);
    if (g !== undefined) v = costVMean(cost, g);
    e = s.tau;
  }
  if (v === undefined) return undefined;
  if (filter.drafterWeights !== undefined && filter.drafterWeights !== (filter.weights ?? "f32")) {
    // The cost model timed the drafters at the target's precision: a quantized drafter's c is
    // its runs' own, the mean drafter call over the mean target step inside the loop.
    c = inLoopC(results, filter);
  }
  const predicted = e / (draftSteps * c + v);
  return {
    c,
    v,
    e,
    draftSteps,
    predicted,
    measured,
    efficiency: predicted > 0 ? measured / predicted : 0,
  };
}

/** Draft (or head) forwards per target step, pooled over the runs of `filter`. */
function draftForwardsPerStep(results: BenchmarkResults, filter: RunFilter): number {
  let forwards = 0, steps = 0;
  for (const r of results.runs) {
    if (!matches(r, filter)) continue;
    forwards += r.draftForwards;
    steps += r.meanAcceptedLength > 0 ? r.newTokens / r.meanAcceptedLength : 0;
  }
  return steps > 0 ? forwards / steps : 0;
}

/** c of a configuration from its runs: mean drafter call / mean target step, both in the loop. */
function inLoopC(results: BenchmarkResults, filter: RunFilter): number {
  let draft = 0, target = 0, n = 0;
  for (const r of results.runs) {
    if (!matches(r, filter) || r.draftStepMs === undefined || r.targetStepMs === undefined) {
      continue;
    }
    draft += r.draftStepMs;
    target += r.targetStepMs;
    n++;
  }
  return n > 0 && target > 0 ? draft / target : 0;
}
