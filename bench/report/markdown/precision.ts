/**
 * `precisionSection`: every method at f32, q8 and q4 weights on the bench
 * pair, each at its best measured setting at that precision, with speedups
 * over autoregressive decoding at the same precision.
 *
 * @module
 */

import { formatNumber } from "../../../mod.ts";
import { type BestSetting, bestSetting } from "../best_setting.ts";
import { compareGreedy } from "../compare_greedy.ts";
import type { BenchmarkResults, Precision, RunFilter } from "../results.ts";
import { matches, summarize } from "../summarize.ts";
import { METHOD_NAMES, SPECULATIVE_METHODS } from "./headline.ts";

/** One row of the precision table. */
export interface PrecisionRow {
  /** Weight precision. */
  weights: Precision;
  /** The method's best setting at that precision (autoregressive: its runs). */
  best: BestSetting;
  /** Tokens/s over f32 autoregressive decoding. */
  vsF32: number | undefined;
  /** Greedy output against autoregressive's at the same precision. */
  greedy: ReturnType<typeof compareGreedy>;
}

/**
 * The rows of the precision table: per precision, autoregressive and each
 * speculative method at its fastest setting at that precision (greedy, code
 * prompts).
 *
 * @param results The benchmark results.
 * @returns The rows (none without a precision section).
 */
export function precisionRows(results: BenchmarkResults): PrecisionRow[] {
  const p = results.precision;
  if (p === undefined) return [];
  const f32Ar = summarize(results, { method: "ar", temperature: 0, kind: "code" });
  const rows: PrecisionRow[] = [];
  for (const weights of p.weights) {
    const arFilter: RunFilter = {
      method: "ar",
      temperature: 0,
      kind: "code",
      ...(weights !== "f32" ? { weights } : {}),
    };
    const arRuns = results.runs.filter((r) => matches(r, arFilter));
    for (const method of ["ar", ...SPECULATIVE_METHODS] as const) {
      const best = bestSetting(results, method, { weights });
      if (best === undefined) continue;
      rows.push({
        weights,
        best,
        vsF32: f32Ar !== undefined && f32Ar.tokensPerSecond > 0
          ? best.tokensPerSecond / f32Ar.tokensPerSecond
          : undefined,
        greedy: compareGreedy(results.runs.filter((r) => matches(r, best.filter)), arRuns),
      });
    }
  }
  return rows;
}

/**
 * The weight-precision section ("Not run." without one).
 *
 * @param results The benchmark results.
 * @returns Markdown lines.
 */
export function precisionSection(results: BenchmarkResults): string[] {
  const f = formatNumber;
  const out = ["## Weight precision (greedy, code prompts)", ""];
  const rows = precisionRows(results);
  if (rows.length === 0) return [...out, "Not run."];
  out.push(
    'The target, the draft and the heads loaded with `weights: "f32" | "q8" | "q4"` ' +
      "(block-wise quantized weights: specdec's PackedLinearQ on AVX-512 CPUs, else " +
      "MatMulNBits; a q8/q4 draft model multiplies with int8 activations, as the heads' " +
      "MatMulNBits does, while a q8/q4 target keeps f32 activations). " +
      "Each method at its fastest " +
      "setting measured at that precision (f32: the sweeps above, each drafting method's " +
      "best setting again with its drafter (draft, Medusa heads, EAGLE head) at q8 and q4 while " +
      "the target stays f32, named `q8 draft` / `q8 heads` / `q8 head`: a cheaper drafter " +
      "changes only what is proposed, and its best so far with a prompt-lookup branch " +
      "(`+ lookup 8`: up to 8 tokens copied from the context join each step's draft as one more " +
      "path, verified in the same target forward); q8 and q4: the drafters at the target's precision, draft-target at the " +
      "f32 best K and its neighbours, Medusa at 4 nodes and the f32 best tree, prompt lookup at " +
      "K = 2, 3, 5 and its f32 best, EAGLE at its f32 best and the 4-node tree, then each " +
      "drafting method's best at that precision with a lookup branch of 8). Speedup is over autoregressive decoding at the same precision; " +
      "lossless means equal to the autoregressive output at the same precision.",
  );
  out.push("");
  out.push(
    "| Weights | Method | Setting | tok/s | Acceptance | Speedup (same weights) | vs f32 autoregressive | Greedy output = autoregressive |",
  );
  out.push("|---|---|---|---:|---:|---:|---:|---|");
  for (const row of rows) {
    const s = summarize(results, row.best.filter);
    const method = row.best.filter.method;
    const cmp = row.greedy;
    const same = method === "ar" || cmp.compared === 0
      ? "-"
      : cmp.identical === cmp.compared
      ? `yes (${cmp.identical}/${cmp.compared} prompts)`
      : `**no**: ${cmp.identical}/${cmp.compared} prompts; first differences at ${
        cmp.differences.slice(0, 3).map((d) => `${d.promptId}@${d.at}`).join(", ")
      }`;
    out.push(
      `| ${row.weights} | ${METHOD_NAMES[method]} | ${row.best.name || "-"} | ${
        f.tokensPerSecond(row.best.tokensPerSecond)
      } | ${method === "ar" ? "-" : f.percent(s?.acceptanceRate)} | ${
        f.ratio(row.best.speedup)
      } | ${f.ratio(row.vsF32)} | ${same} |`,
    );
  }
  return out;
}
