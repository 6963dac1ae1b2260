/**
 * `renderReport`: writes `results/REPORT.md` from benchmark results, one
 * builder per section (`markdown/`): the header and thread probe, the
 * headline (each method at its best measured setting), the speedup model
 * with V(g) per weight precision, where the time goes, the sweeps, dynamic K, code vs prose, the
 * weight-precision rows, the optional sections (real scale, ...), the peer
 * comparison, recommended defaults and the goals. Every figure is computed
 * from the results file.
 *
 * @module
 */

import type { BenchmarkResults } from "./results.ts";
import { byKindSection } from "./markdown/by_kind.ts";
import { defaultsSection } from "./markdown/defaults.ts";
import { dynamicKSection } from "./markdown/dynamic_k.ts";
import { goalsSection } from "./markdown/goals.ts";
import { headerSection } from "./markdown/header.ts";
import { headlineSection } from "./markdown/headline.ts";
import { peersSection } from "./markdown/peers.ts";
import { precisionSection } from "./markdown/precision.ts";
import { speedupModelSection } from "./markdown/speedup_model.ts";
import { sweepSection } from "./markdown/sweep.ts";
import { threadProbeSection } from "./markdown/thread_probe.ts";
import { timeSplitSection } from "./markdown/time_split.ts";

/**
 * Renders the report.
 *
 * @param results Benchmark results (usually `results/benchmark_results.json`).
 * @returns The markdown document.
 *
 * @example Rendering a report
 * ```ts ignore
 * import { renderReport } from "./render_report.ts";
 * const results = JSON.parse(await Deno.readTextFile("results/benchmark_results.json"));
 * console.log(renderReport(results));
 * ```
 */
export function renderReport(results: BenchmarkResults): string {
  const sections: string[][] = [
    [...headerSection(results), ...threadProbeSection(results), ...headlineSection(results)],
    speedupModelSection(results),
  ];
  const split = timeSplitSection(results);
  if (split.length > 0) sections.push(split);
  sections.push(
    sweepSection(results, "speculative", "Draft-target K sweep (greedy, code prompts)"),
    dynamicKSection(results),
    sweepSection(results, "medusa", "Medusa tree-size sweep (greedy, code prompts)"),
    sweepSection(results, "lookup", "Prompt lookup K sweep (greedy, code prompts)"),
  );
  if (results.runs.some((r) => r.method === "eagle")) {
    sections.push(
      sweepSection(results, "eagle", "EAGLE chain and tree sweep (greedy, code prompts)"),
    );
  }
  sections.push(byKindSection(results));
  if (results.precision !== undefined) sections.push(precisionSection(results));
  for (const s of results.sections ?? []) sections.push([s.markdown.trimEnd()]);
  sections.push(peersSection(results), defaultsSection(results), goalsSection(results));
  // One blank line between sections; the file ends with one newline.
  return sections.map((lines) => lines.join("\n")).join("\n\n") + "\n";
}
