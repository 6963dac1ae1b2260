/**
 * `speedupModel`: the report's model of a speculative step, S = E / (K·c + V),
 * next to the measured speedup: c from the draft (or heads) step, V(g) from
 * timed g-token target forwards, E from the acceptance α (chains) or the
 * measured τ (trees).
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
  const arFilter: RunFilter = { method: "ar", temperature: filter.temperature };
  if (filter.kind !== undefined) arFilter.kind = filter.kind;
  if (filter.weights !== undefined) arFilter.weights = filter.weights;
  const ar = summarize(results, arFilter);
  if (s === undefined || ar === undefined || ar.tokensPerSecond <= 0) return undefined;
  const measured = s.tokensPerSecond / ar.tokensPerSecond;
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
