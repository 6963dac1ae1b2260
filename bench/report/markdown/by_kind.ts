/**
 * `byKindSection`: the headline methods on code and on prose prompts.
 *
 * @module
 */

import { formatNumber } from "../../../mod.ts";
import type { BenchmarkResults, PromptKind } from "../results.ts";
import { summarize } from "../summarize.ts";
import { headlineRows } from "./headline.ts";

/**
 * Code vs prose (greedy), each method at its headline setting.
 *
 * @param results The benchmark results.
 * @returns Markdown lines.
 */
export function byKindSection(results: BenchmarkResults): string[] {
  const out = ["### Code vs prose prompts (greedy)", ""];
  const kinds: PromptKind[] = ["code", "prose"];
  if (!results.runs.some((r) => r.promptKind === "prose")) {
    return [...out, "No prose prompts in this run."];
  }
  out.push(
    "| Method | Code tok/s | Code speedup | Code acceptance | Prose tok/s | Prose speedup | Prose acceptance |",
  );
  out.push("|---|---:|---:|---:|---:|---:|---:|");
  for (const { name, filter } of headlineRows(results, 0)) {
    const cells: string[] = [];
    for (const kind of kinds) {
      const s = summarize(results, { ...filter, kind });
      if (s === undefined) {
        cells.push("-", "-", "-");
        continue;
      }
      cells.push(
        formatNumber.tokensPerSecond(s.tokensPerSecond),
        formatNumber.ratio(s.speedup),
        filter.method === "ar" ? "-" : formatNumber.percent(s.acceptanceRate),
      );
    }
    out.push(`| ${name} | ${cells.join(" | ")} |`);
  }
  return out;
}
