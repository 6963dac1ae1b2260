/**
 * Draft-target settings beyond the constant-K sweep (the heuristic K schedule,
 * the draft-confidence early stop): their labels, run filters and pooled
 * figures against autoregressive decoding. Main export:
 * {@linkcode summarizeSetting}.
 *
 * @module
 */

import type { BenchmarkResults, BenchSchedule, RunFilter } from "./results.ts";
import { compareGreedy, type GreedyComparison } from "./compare_greedy.ts";
import { isVariant, matches, summarize } from "./summarize.ts";

/** One draft-target setting: K (the starting K under the heuristic schedule), schedule, threshold. */
export interface DraftSetting {
  /** K, or the starting K of the heuristic schedule. */
  k: number;
  /** K schedule. */
  schedule: BenchSchedule;
  /** Confidence threshold of the early stop (0: disabled). */
  confidence: number;
  /** `[min, max]` K of the heuristic schedule, as the decoder reported them. */
  kRange?: [number, number];
}

/**
 * Short label of a draft-target setting: `K=3`, `K=3 heuristic 1..6`,
 * `K=3 confidence 0.5`, `K=5 heuristic 1..10 confidence 0.5`.
 *
 * @param s The setting (absent schedule: constant; absent confidence: 0).
 * @returns The label.
 *
 * @example Labels
 * ```ts
 * import { settingLabel } from "./draft_settings.ts";
 * if (settingLabel({ k: 3 }) !== "K=3") throw new Error("constant");
 * if (settingLabel({ k: 5, schedule: "heuristic", confidence: 0.5 }) !== "K=5 heuristic confidence 0.5") {
 *   throw new Error("variant");
 * }
 * ```
 */
export function settingLabel(
  s: { k?: number; schedule?: BenchSchedule; confidence?: number; kRange?: [number, number] },
): string {
  const parts = [`K=${s.k ?? "?"}`];
  if (s.schedule === "heuristic") {
    parts.push(s.kRange === undefined ? "heuristic" : `heuristic ${s.kRange[0]}..${s.kRange[1]}`);
  }
  if ((s.confidence ?? 0) > 0) parts.push(`confidence ${s.confidence}`);
  return parts.join(" ");
}

/** The run filter of a draft-target setting on the greedy code prompts. */
export function settingFilter(s: DraftSetting): RunFilter {
  return {
    method: "speculative",
    k: s.k,
    temperature: 0,
    kind: "code",
    schedule: s.schedule,
    confidence: s.confidence,
  };
}

/**
 * The draft-target settings with the heuristic schedule or a confidence
 * threshold among the greedy f32 code runs, constant schedules first, then by K
 * and threshold.
 */
export function variantSettings(results: BenchmarkResults): DraftSetting[] {
  const seen = new Map<string, DraftSetting>();
  for (const r of results.runs) {
    if (r.method !== "speculative" || r.temperature !== 0 || r.promptKind !== "code") continue;
    if ((r.weights ?? "f32") !== "f32") continue;
    if (!isVariant(r) || r.k === undefined) continue;
    const s: DraftSetting = {
      k: r.k,
      schedule: r.schedule ?? "constant",
      confidence: r.confidence ?? 0,
    };
    if (r.kRange !== undefined) s.kRange = r.kRange;
    const key = `${s.schedule} ${s.k} ${s.confidence}`;
    if (!seen.has(key)) seen.set(key, s);
  }
  return [...seen.values()].sort((a, b) =>
    (a.schedule === b.schedule ? 0 : a.schedule === "constant" ? -1 : 1) || a.k - b.k ||
    a.confidence - b.confidence
  );
}

/** Figures of one draft-target setting on the greedy code prompts. */
export interface SettingSummary {
  /** The setting. */
  setting: DraftSetting;
  /** Total tokens / total seconds. */
  tokensPerSecond: number;
  /**
   * Tokens/s over the autoregressive runs measured beside it (its phase, same prompts);
   * undefined without autoregressive runs.
   */
  speedup: number | undefined;
  /** Mean tokens per target step (τ). */
  tau: number;
  /** Accepted / drafted; undefined when nothing was drafted. */
  acceptanceRate: number | undefined;
  /** Draft forwards per generated token. */
  draftForwardsPerToken: number;
  /** Greedy token ids against autoregressive's, prompt by prompt. */
  greedy: GreedyComparison;
}

/**
 * Pools the greedy code runs of one draft-target setting and compares their
 * tokens with autoregressive's.
 *
 * @param results The benchmark results.
 * @param setting K, schedule and threshold.
 * @returns The figures, or `undefined` when the setting did not run.
 */
export function summarizeSetting(
  results: BenchmarkResults,
  setting: DraftSetting,
): SettingSummary | undefined {
  const filter = settingFilter(setting);
  const s = summarize(results, filter);
  if (s === undefined) return undefined;
  const runs = results.runs.filter((r) => matches(r, filter));
  const arFilter: RunFilter = { method: "ar", temperature: 0, kind: "code" };
  const arRuns = results.runs.filter((r) => matches(r, arFilter));
  const tokens = runs.reduce((n, r) => n + r.newTokens, 0);
  const drafted = runs.reduce((n, r) => n + r.draftForwards, 0);
  return {
    setting,
    tokensPerSecond: s.tokensPerSecond,
    speedup: s.speedup,
    tau: s.tau,
    acceptanceRate: s.acceptanceRate,
    draftForwardsPerToken: tokens > 0 ? drafted / tokens : 0,
    greedy: compareGreedy(runs, arRuns),
  };
}

/** True when every prompt compared with autoregressive had identical greedy tokens. */
export function isLossless(s: SettingSummary): boolean {
  return s.greedy.compared > 0 && s.greedy.identical === s.greedy.compared;
}
