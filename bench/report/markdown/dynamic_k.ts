/**
 * `dynamicKSection`: draft-target with the heuristic K schedule and the
 * draft-confidence early stop beside the constant-K sweep, and
 * {@linkcode dynamicVerdict}, whether the defaults should change.
 *
 * @module
 */

import { formatNumber } from "../../../mod.ts";
import { bestSetting, faster } from "../best_setting.ts";
import {
  type DraftSetting,
  isLossless,
  settingLabel,
  type SettingSummary,
  summarizeSetting,
  variantSettings,
} from "../draft_settings.ts";
import type { BenchmarkResults } from "../results.ts";
import { distinct } from "../summarize.ts";

/**
 * How much faster (tokens/s) than the best constant K a dynamic-K or
 * early-stop setting must be before the report suggests changing the
 * draft-target defaults: smaller gains are within run-to-run noise.
 */
const DEFAULT_CHANGE_MARGIN = 0.03;

/** Which setting is best, and whether the draft-target defaults should change. */
export interface DynamicVerdict {
  /** The section's sentence: the best setting measured and the advice. */
  advice: string;
  /** The same advice in a few words, for the recommended defaults. */
  short: string;
}

/** The best constant K of the greedy f32 sweep. */
function bestK(results: BenchmarkResults): number | undefined {
  return bestSetting(results, "speculative")?.filter.k;
}

/** The constant-K rows shown beside the dynamic-K points: their starting Ks and the best K. */
function constantBaselines(results: BenchmarkResults, variants: DraftSetting[]): number[] {
  const swept = distinct(results, "speculative", "k");
  const top = bestK(results);
  const ks = new Set(variants.map((v) => v.k).filter((k) => swept.includes(k)));
  if (top !== undefined) ks.add(top);
  return [...ks].sort((a, b) => a - b);
}

function constantSetting(k: number): DraftSetting {
  return { k, schedule: "constant", confidence: 0 };
}

/** The fastest dynamic-K / early-stop setting whose greedy output equals autoregressive's. */
function fastestLossless(results: BenchmarkResults): SettingSummary | undefined {
  let top: SettingSummary | undefined;
  for (const setting of variantSettings(results)) {
    const s = summarizeSetting(results, setting);
    if (
      s !== undefined && isLossless(s) &&
      (top === undefined || faster(s, top))
    ) {
      top = s;
    }
  }
  return top;
}

function named(s: SettingSummary): string {
  return `${settingLabel(s.setting)} (${formatNumber.tokensPerSecond(s.tokensPerSecond)} tok/s, ${
    formatNumber.ratio(s.speedup)
  })`;
}

/** The decoder options that select a setting. */
function defaultsOf(s: DraftSetting): string {
  const parts = [`numSpeculativeTokens ${s.k}`];
  if (s.schedule !== "constant") parts.push(`schedule "${s.schedule}"`);
  if (s.confidence > 0) parts.push(`confidenceThreshold ${s.confidence}`);
  return parts.join(", ");
}

/**
 * Compares the fastest lossless dynamic-K / early-stop setting with the best
 * constant K and advises on the draft-target defaults.
 *
 * @param results The benchmark results.
 * @returns The advice, or `undefined` when no such setting ran.
 */
export function dynamicVerdict(results: BenchmarkResults): DynamicVerdict | undefined {
  if (variantSettings(results).length === 0) return undefined;
  const keep = "keep the defaults (constant K, confidence threshold 0)";
  const variant = fastestLossless(results);
  if (variant === undefined) {
    const advice = "no dynamic-K or early-stop setting reproduced autoregressive's greedy " +
      `output, so none is a candidate: ${keep}.`;
    return { advice, short: `${keep} (no lossless alternative measured).` };
  }
  const k = bestK(results);
  const constant = k === undefined ? undefined : summarizeSetting(results, constantSetting(k));
  if (constant === undefined) {
    const advice = `best setting measured: ${named(variant)}; no constant-K sweep to compare with.`;
    return { advice, short: advice };
  }
  const gain = variant.speedup !== undefined && constant.speedup !== undefined
    ? variant.speedup / constant.speedup - 1
    : variant.tokensPerSecond / constant.tokensPerSecond - 1;
  const vs = `${formatNumber.change(gain)} against the best constant K, ${named(constant)}`;
  const versus = `${named(variant)} against ${named(constant)}`;
  if (gain > DEFAULT_CHANGE_MARGIN) {
    const to = defaultsOf(variant.setting);
    return {
      advice: `best setting measured: ${named(variant)}, ${vs}: change the draft-target ` +
        `defaults to ${to}.`,
      short: `${to} (${versus}).`,
    };
  }
  const margin = gain > 0
    ? `, within the ${formatNumber.percent(DEFAULT_CHANGE_MARGIN, 0)} noise margin`
    : "";
  return {
    advice: `best setting measured: ${named(gain > 0 ? variant : constant)}; the best ` +
      `dynamic-K / early-stop setting, ${named(variant)}, is ${vs}${margin}: ${keep}.`,
    short: `${keep}; best alternative ${versus}.`,
  };
}

function settingRow(s: SettingSummary, note: string): string {
  const f = formatNumber;
  const same = s.greedy.compared === 0
    ? "-"
    : isLossless(s)
    ? `yes (${s.greedy.identical}/${s.greedy.compared} prompts)`
    : `**no**: ${s.greedy.identical}/${s.greedy.compared} prompts; first differences at ${
      s.greedy.differences.slice(0, 3).map((d) => `${d.promptId}@${d.at}`).join(", ")
    }`;
  return `| ${settingLabel(s.setting)}${note} | ${f.tokensPerSecond(s.tokensPerSecond)} | ${
    f.ratio(s.speedup)
  } | ${f.fixed(s.tau)} | ${f.percent(s.acceptanceRate)} | ${
    f.fixed(s.draftForwardsPerToken)
  } | ${same} |`;
}

/**
 * REPORT.md's table of the heuristic K schedule and draft-confidence early stop.
 *
 * @param results The benchmark results.
 * @returns Markdown lines.
 */
export function dynamicKSection(results: BenchmarkResults): string[] {
  const out = ["### Dynamic K and draft-confidence stop (greedy, code prompts)", ""];
  const variants = variantSettings(results);
  if (variants.length === 0) return [...out, "Not run."];
  out.push(
    "Draft-target with the heuristic K schedule (`heuristic LO..HI`: K starts at the given value, " +
      "grows by 2 after a step that accepted every draft and shrinks by 1 after a rejection, " +
      "within LO..HI) and with the draft-confidence early stop (`confidence t`: drafting stops " +
      "once the draft's probability of its own token falls below t), on the prompts of the K " +
      "sweep; the constant-K rows are the sweep's own runs, for comparison.",
  );
  out.push("");
  out.push(
    "| Setting | tok/s | Speedup | τ | Acceptance | Draft forwards / token | Greedy output = autoregressive |",
  );
  out.push("|---|---:|---:|---:|---:|---:|---|");
  const top = bestK(results);
  for (const k of constantBaselines(results, variants)) {
    const s = summarizeSetting(results, constantSetting(k));
    if (s !== undefined) out.push(settingRow(s, k === top ? " (best constant K)" : " (constant)"));
  }
  for (const v of variants) {
    const s = summarizeSetting(results, v);
    if (s !== undefined) out.push(settingRow(s, ""));
  }
  const verdict = dynamicVerdict(results);
  if (verdict !== undefined) {
    out.push("");
    out.push(`${verdict.advice.charAt(0).toUpperCase()}${verdict.advice.slice(1)}`);
  }
  return out;
}
