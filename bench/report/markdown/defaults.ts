/**
 * `defaultsSection`: the recommended defaults on this machine (each
 * method's best measured setting, per weight precision).
 *
 * @module
 */

import { formatNumber } from "../../../mod.ts";
import { bestSetting, drafterSuffix, lookupSuffix } from "../best_setting.ts";
import type { BenchmarkResults, BenchMethod } from "../results.ts";
import { dynamicVerdict } from "./dynamic_k.ts";
import { SPECULATIVE_METHODS } from "./headline.ts";

const LOWER_NAMES: Record<BenchMethod, string> = {
  ar: "autoregressive",
  speculative: "draft-target",
  medusa: "Medusa",
  lookup: "prompt lookup",
  eagle: "EAGLE",
};

/**
 * The recommended defaults section.
 *
 * @param results The benchmark results.
 * @returns Markdown lines.
 */
export function defaultsSection(results: BenchmarkResults): string[] {
  const r = formatNumber.ratio;
  const out = ["## Recommended defaults (this machine, greedy, code prompts)", ""];
  const dt = bestSetting(results, "speculative");
  const md = bestSetting(results, "medusa");
  const pl = bestSetting(results, "lookup");
  const eg = bestSetting(results, "eagle");
  // What each best was chosen from: the sweep, the quantized drafters, the lookup branch.
  const from = (m: BenchMethod, sweep: string, drafters: string): string =>
    results.runs.some((x) => x.method === m && (x.lookup ?? 0) > 0 && !x.weights)
      ? `best of ${sweep}, ${drafters} and the lookup branch`
      : `best of ${sweep} and ${drafters}`;
  if (dt !== undefined) {
    out.push(
      `- Draft-target: K = ${dt.filter.k}${lookupSuffix(dt.filter)}${drafterSuffix(dt.filter)} (${
        r(dt.speedup)
      }, ${from("speculative", "the K sweep", "the quantized drafts")}).`,
    );
  }
  if (md !== undefined) {
    out.push(
      `- Medusa: the ${md.filter.tree}-node tree${lookupSuffix(md.filter)}${
        drafterSuffix(md.filter)
      } (${r(md.speedup)}, ${from("medusa", "the tree sweep", "the quantized heads")}).`,
    );
  }
  const verdict = dynamicVerdict(results);
  if (verdict !== undefined) out.push(`- Draft-target schedule: ${verdict.short}`);
  if (pl !== undefined) out.push(`- Prompt lookup: K = ${pl.filter.k} (${r(pl.speedup)}).`);
  if (eg !== undefined) {
    out.push(
      `- EAGLE: ${eg.name} (${r(eg.speedup)}, ${
        from("eagle", "the EAGLE sweep", "the quantized heads")
      }).`,
    );
  }
  const all = [["draft-target", dt], ["Medusa", md], ["prompt lookup", pl], ["EAGLE", eg]] as const;
  const winner = all.filter((x) => x[1]?.speedup !== undefined)
    .sort((a, b) => b[1]!.speedup! - a[1]!.speedup!)[0];
  if (winner !== undefined) {
    out.push(
      winner[1]!.speedup! > 1
        ? `- Fastest method here: ${winner[0]} (${r(winner[1]!.speedup)}).`
        : "- No speculative method beat autoregressive decoding here: use `--method ar` on this machine.",
    );
  }
  const sampledAt = results.runs.find((x) => x.temperature > 0 && !x.weights)?.temperature;
  if (sampledAt !== undefined) {
    const bests = SPECULATIVE_METHODS
      .map((m) => [m, bestSetting(results, m, { temperature: sampledAt })] as const)
      .filter((x) => x[1] !== undefined);
    if (bests.length > 0) {
      out.push(
        `- Sampling (temperature ${sampledAt}): ${
          bests.map(([m, b]) => `${LOWER_NAMES[m]} ${b!.name} (${r(b!.speedup)})`).join(", ")
        }; the CLI and the server use these when they sample.`,
      );
    }
  }
  for (const weights of results.precision?.weights ?? []) {
    if (weights === "f32") continue;
    const bests = SPECULATIVE_METHODS.map((m) => [m, bestSetting(results, m, { weights })] as const)
      .filter((x) => x[1] !== undefined);
    if (bests.length === 0) continue;
    const list = bests.map(([m, b]) => `${LOWER_NAMES[m]} ${b!.name} (${r(b!.speedup)})`).join(
      ", ",
    );
    const top = [...bests].sort((a, b) => (b[1]!.speedup ?? 0) - (a[1]!.speedup ?? 0))[0]!;
    out.push(
      `- \`--weights ${weights}\`: ${list}; ` +
        ((top[1]!.speedup ?? 0) > 1
          ? `fastest ${LOWER_NAMES[top[0]]}.`
          : "none beat autoregressive decoding at this precision."),
    );
  }
  if (out.length === 2) out.push("No sweeps in this run.");
  return out;
}
