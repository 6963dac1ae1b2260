/**
 * `writeOutputs`: writes `benchmark_results.json`, `REPORT.md`,
 * `speedup.svg` and `acceptance.svg` into the output folder.
 *
 * @module
 */

import { renderReport } from "./render_report.ts";
import type { BenchmarkResults } from "./results.ts";
import { renderCharts } from "./svg/render_charts.ts";

/**
 * Writes the report's files.
 *
 * @param results The benchmark results.
 * @param out The output folder (created when missing).
 * @param withJson False to leave `benchmark_results.json` as it is (`--render-only`).
 */
export async function writeOutputs(
  results: BenchmarkResults,
  out: string,
  withJson: boolean,
): Promise<void> {
  await Deno.mkdir(out, { recursive: true });
  if (withJson) {
    await Deno.writeTextFile(
      `${out}/benchmark_results.json`,
      `${JSON.stringify(results, null, 1)}\n`,
    );
  }
  await Deno.writeTextFile(`${out}/REPORT.md`, renderReport(results));
  const charts = renderCharts(results);
  await Deno.writeTextFile(`${out}/speedup.svg`, charts.speedup);
  await Deno.writeTextFile(`${out}/acceptance.svg`, charts.acceptance);
}
