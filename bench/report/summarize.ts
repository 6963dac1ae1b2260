/**
 * `summarize`: pools the runs of one configuration into throughput,
 * acceptance, α and τ; with the run matching ({@linkcode matches}) and the
 * sweep points ({@linkcode distinct}) it rests on.
 *
 * @module
 */

import { pairedBaseline } from "./paired_baseline.ts";
import type { Precision } from "./results.ts";
import type {
  BenchmarkResults,
  BenchMethod,
  ConfigSummary,
  RunFilter,
  RunRecord,
} from "./results.ts";

/**
 * True when a run used a non-default draft-target setting (the heuristic
 * schedule or a confidence threshold): not part of the constant-K sweep.
 */
export function isVariant(run: Pick<RunRecord, "schedule" | "confidence">): boolean {
  return (run.schedule ?? "constant") !== "constant" || (run.confidence ?? 0) !== 0;
}

/** The drafter's precision of a run or filter: its own, else the target's. */
export function drafterOf(x: Pick<RunRecord, "weights" | "drafterWeights">): Precision {
  return x.drafterWeights ?? x.weights ?? "f32";
}

/**
 * True when `run` matches `filter` (absent weights / drafter / lookup branch / schedule /
 * confidence: only the defaults).
 */
export function matches(run: RunRecord, filter: RunFilter): boolean {
  return run.method === filter.method && run.temperature === filter.temperature &&
    (filter.kind === undefined || run.promptKind === filter.kind) &&
    (filter.k === undefined || run.k === filter.k) &&
    (filter.tree === undefined || run.tree === filter.tree) &&
    (run.weights ?? "f32") === (filter.weights ?? "f32") &&
    drafterOf(run) === drafterOf(filter) &&
    (run.lookup ?? 0) === (filter.lookup ?? 0) &&
    (run.schedule ?? "constant") === (filter.schedule ?? "constant") &&
    (run.confidence ?? 0) === (filter.confidence ?? 0);
}

/**
 * Pools the runs of one configuration.
 *
 * @param results The benchmark results.
 * @param filter Which runs.
 * @returns The pooled figures, or `undefined` when no run matches.
 *
 * @example Pooling two runs
 * ```ts
 * import { summarize } from "./summarize.ts";
 * import type { BenchmarkResults } from "./results.ts";
 * const run = { method: "ar" as const, temperature: 0, promptId: "a", promptKind: "code" as const,
 *   newTokens: 10, wallTimeMs: 500, targetForwards: 11, draftForwards: 0, drafted: 0, accepted: 0,
 *   meanAcceptedLength: 1, acceptedAtPosition: [], checkedAtPosition: [], tokens: [] };
 * const results = { runs: [run, { ...run, promptId: "b" }] } as unknown as BenchmarkResults;
 * const s = summarize(results, { method: "ar", temperature: 0 });
 * if (s === undefined || s.tokensPerSecond !== 20) throw new Error("unexpected");
 * ```
 */
export function summarize(
  results: Pick<BenchmarkResults, "runs">,
  filter: RunFilter,
): ConfigSummary | undefined {
  const runs = results.runs.filter((r) => matches(r, filter));
  if (runs.length === 0) return undefined;
  let tokens = 0, ms = 0, drafted = 0, accepted = 0, steps = 0;
  const acc: number[] = [];
  const prop: number[] = [];
  for (const r of runs) {
    tokens += r.newTokens;
    ms += r.wallTimeMs;
    drafted += r.drafted;
    accepted += r.accepted;
    steps += r.meanAcceptedLength > 0 ? r.newTokens / r.meanAcceptedLength : 0;
    r.acceptedAtPosition.forEach((a, i) => acc[i] = (acc[i] ?? 0) + a);
    r.checkedAtPosition.forEach((p, i) => prop[i] = (prop[i] ?? 0) + p);
  }
  const perPosition = prop.map((p, i) => (p > 0 ? (acc[i] ?? 0) / p : Number.NaN));
  const tokensPerSecond = ms > 0 ? (1000 * tokens) / ms : 0;
  const baseline = filter.method === "ar"
    ? undefined
    : throughput(pairedBaseline(results.runs, runs).runs);
  const speedup = filter.method === "ar"
    ? 1
    : baseline !== undefined && baseline > 0
    ? tokensPerSecond / baseline
    : undefined;
  return {
    filter,
    runs: runs.length,
    newTokens: tokens,
    tokensPerSecond,
    ...(baseline !== undefined ? { baselineTokensPerSecond: baseline } : {}),
    ...(speedup !== undefined ? { speedup } : {}),
    acceptanceRate: drafted > 0 ? accepted / drafted : undefined,
    alpha: estimateAlpha(acc, prop, drafted > 0 ? accepted / drafted : undefined),
    tau: steps > 0 ? tokens / steps : 1,
    perPosition,
  };
}

/**
 * Total tokens / total seconds of `runs`; undefined when there are none.
 *
 * @param runs Runs to pool.
 * @returns Tokens per second.
 */
export function throughput(runs: readonly RunRecord[]): number | undefined {
  if (runs.length === 0) return undefined;
  const tokens = runs.reduce((s, r) => s + r.newTokens, 0);
  const ms = runs.reduce((s, r) => s + r.wallTimeMs, 0);
  return ms > 0 ? (1000 * tokens) / ms : undefined;
}

/**
 * Per-token acceptance α under the geometric model: the fraction of proposed
 * positions accepted, given that every earlier position was accepted (the
 * maximum-likelihood estimate from per-position counts).
 */
function estimateAlpha(
  acc: number[],
  prop: number[],
  fallback: number | undefined,
): number | undefined {
  const a = acc.reduce((s, x) => s + x, 0);
  const p = prop.reduce((s, x) => s + x, 0);
  return p > 0 ? a / p : fallback;
}

/**
 * Distinct values of a numeric field among runs of a method, ascending: the
 * sweep's points, so runs with a non-default schedule or confidence threshold
 * ({@linkcode isVariant}) are left out, and so are runs at another weight
 * precision than `weights` (default f32).
 */
export function distinct(
  results: BenchmarkResults,
  method: BenchMethod,
  field: "k" | "tree",
  temperature = 0,
  weights: Precision = "f32",
): number[] {
  const set = new Set<number>();
  for (const r of results.runs) {
    const v = r[field];
    if (
      r.method === method && r.temperature === temperature && v !== undefined && !isVariant(r) &&
      (r.weights ?? "f32") === weights
    ) {
      set.add(v);
    }
  }
  return [...set].sort((a, b) => a - b);
}
