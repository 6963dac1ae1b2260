/**
 * `sweepSection`: one method's sweep table (draft-target and prompt lookup
 * K, Medusa tree sizes, EAGLE shapes; the quantized-drafter and lookup-branch
 * rows beside their setting) with the speedup model beside each measurement.
 *
 * @module
 */

import { formatNumber } from "../../../mod.ts";
import { drafterSuffix, lookupSuffix, settingName, sweepSettings } from "../best_setting.ts";
import type { BenchmarkResults, BenchMethod, RunFilter } from "../results.ts";
import { speedupModel } from "../speedup_model.ts";
import { matches, summarize } from "../summarize.ts";

/** Measured ms per target step against the model's (K·c + V) · target step. */
function stepTimes(results: BenchmarkResults, filter: RunFilter): string {
  const runs = results.runs.filter((r) => matches(r, filter));
  const ms = runs.reduce((s, r) => s + r.wallTimeMs, 0);
  const steps = runs.reduce(
    (s, r) => s + (r.meanAcceptedLength > 0 ? r.newTokens / r.meanAcceptedLength : 0),
    0,
  );
  const m = speedupModel(results, filter);
  if (steps <= 0 || m === undefined) return "-";
  const model = (m.draftSteps * m.c + m.v) * results.cost.targetStepMs;
  return `${formatNumber.ms(ms / steps)} / ${formatNumber.ms(model)}`;
}

/**
 * A sweep table on the greedy f32 code runs ("Not run." without runs).
 *
 * @param results The benchmark results.
 * @param method The method swept.
 * @param title The `###` heading.
 * @returns Markdown lines.
 */
export function sweepSection(
  results: BenchmarkResults,
  method: BenchMethod,
  title: string,
): string[] {
  const f = formatNumber;
  const settings = sweepSettings(results, method);
  const out = [`### ${title}`, ""];
  if (settings.length === 0) return [...out, "Not run."];
  const head = method === "medusa" ? "Tree nodes" : method === "eagle" ? "Shape" : "K";
  const c = method === "eagle" ? "c (× h)" : "c";
  out.push(
    `| ${head} | tok/s | Acceptance | τ | α | ${c} | V | E | Predicted S | Measured S | Efficiency | ms/step measured / model |`,
  );
  out.push(
    `|${
      method === "eagle" ? "---" : "---:"
    }|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|`,
  );
  for (const filter of settings) {
    const s = summarize(results, filter);
    const m = speedupModel(results, filter);
    if (s === undefined || m === undefined) continue;
    const name = method === "eagle"
      ? settingName(filter)
      : String(method === "medusa" ? filter.tree : filter.k) + lookupSuffix(filter) +
        drafterSuffix(filter);
    const cCell = method === "eagle"
      ? `${f.fixed(m.c, 3)} × ${f.fixed(m.draftSteps)}`
      : f.fixed(m.c, 3);
    out.push(
      `| ${name} | ${f.tokensPerSecond(s.tokensPerSecond)} | ${f.percent(s.acceptanceRate)} | ${
        f.fixed(s.tau)
      } | ${f.fixed(s.alpha, 3)} | ${cCell} | ${f.fixed(m.v)} | ${f.fixed(m.e)} | ${
        f.ratio(m.predicted)
      } | ${f.ratio(m.measured)} | ${f.percent(m.efficiency)} | ${stepTimes(results, filter)} |`,
    );
  }
  return out;
}
