/**
 * `renderCharts`: the report's charts as standalone SVG, drawn by our own
 * code: `speedup.svg` and `acceptance.svg`.
 *
 * @module
 */

import type { BenchmarkResults } from "../results.ts";
import { acceptanceChart } from "./acceptance_chart.ts";
import { speedupChart } from "./speedup_chart.ts";

/** Both charts of the report, as SVG documents. */
export interface ReportCharts {
  /** Speedup over autoregressive by method and K (greedy, code prompts). */
  speedup: string;
  /** Per-position acceptance rate by method (greedy, code prompts). */
  acceptance: string;
}

/**
 * Draws the report's two charts from benchmark results.
 *
 * @param results The measured results.
 * @returns The SVG documents.
 *
 * @example Drawing charts from a results file
 * ```ts ignore
 * import { renderCharts } from "./render_charts.ts";
 * const results = JSON.parse(await Deno.readTextFile("results/benchmark_results.json"));
 * const { speedup } = renderCharts(results);
 * await Deno.writeTextFile("/tmp/speedup.svg", speedup);
 * ```
 */
export function renderCharts(results: BenchmarkResults): ReportCharts {
  return { speedup: speedupChart(results), acceptance: acceptanceChart(results) };
}
