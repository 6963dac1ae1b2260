/**
 * `headlineSection`: the headline table (Method | Throughput | Acceptance
 * Rate | Speedup), greedy and with sampling, each speculative method at its
 * best measured setting; and {@linkcode headlineRows}, the rows it shows.
 *
 * @module
 */

import { formatNumber } from "../../../mod.ts";
import { bestSetting, settingName, sweepSettings } from "../best_setting.ts";
import type { BenchmarkResults, BenchMethod, RunFilter, RunRecord } from "../results.ts";
import { matches, summarize, throughput } from "../summarize.ts";

/** One headline row: its name (with the setting) and its runs. */
export interface HeadlineRow {
  /** E.g. `Speculative (best: K=3)`. */
  name: string;
  /** The runs (code prompts). */
  filter: RunFilter;
}

/** Row names of the methods, in headline order. */
export const METHOD_NAMES: Readonly<Record<BenchMethod, string>> = {
  ar: "Autoregressive",
  speculative: "Speculative",
  medusa: "Medusa",
  lookup: "Prompt lookup",
  eagle: "EAGLE",
};

/** The speculative methods in headline order. */
export const SPECULATIVE_METHODS: readonly BenchMethod[] = [
  "speculative",
  "medusa",
  "lookup",
  "eagle",
];

/**
 * The headline's rows at a temperature: autoregressive, then each method. Greedy: its best
 * setting of the sweeps (code prompts, f32). Sampling: every setting that ran at that
 * temperature, the fastest named "best" (the CLI's sampling defaults come from it).
 *
 * @param results The benchmark results.
 * @param temperature 0 (greedy) or the sampling temperature.
 * @returns The rows.
 */
export function headlineRows(results: BenchmarkResults, temperature: number): HeadlineRow[] {
  const rows: HeadlineRow[] = [{
    name: METHOD_NAMES.ar,
    filter: { method: "ar", temperature, kind: "code" },
  }];
  for (const method of SPECULATIVE_METHODS) {
    const best = bestSetting(results, method, { temperature });
    if (best === undefined) continue;
    if (temperature === 0) {
      rows.push({ name: `${METHOD_NAMES[method]} (best: ${best.name})`, filter: best.filter });
      continue;
    }
    for (const filter of sweepSettings(results, method, { temperature })) {
      const name = settingName(filter);
      const tag = name === best.name ? `best: ${name}` : name;
      rows.push({ name: `${METHOD_NAMES[method]} (${tag})`, filter });
    }
  }
  return rows;
}

/**
 * The headline table of one temperature.
 *
 * @param results The benchmark results.
 * @param temperature 0 (greedy) or the sampling temperature.
 * @returns Markdown lines.
 */
export function headlineTable(results: BenchmarkResults, temperature: number): string[] {
  const out = [
    "| Method | Throughput (tok/s) | Acceptance Rate | Speedup |",
    "|---|---:|---:|---:|",
  ];
  for (const { name, filter } of headlineRows(results, temperature)) {
    const s = summarize(results, filter);
    if (s === undefined) {
      out.push(`| ${name} | not run | - | - |`);
      continue;
    }
    const speedup = s.speedup;
    out.push(
      `| ${name} | ${formatNumber.tokensPerSecond(s.tokensPerSecond)} | ${
        filter.method === "ar" ? "-" : formatNumber.percent(s.acceptanceRate)
      } | ${formatNumber.ratio(speedup)} |`,
    );
  }
  return out;
}

/**
 * The sentence on the baselines: each speedup is against the autoregressive runs of the same
 * report phase, and how far autoregressive throughput moved between the phases (f32, greedy,
 * code prompts); empty for results written before the phases.
 *
 * @param results The benchmark results.
 * @returns Zero or one line.
 */
export function baselineNote(results: BenchmarkResults): string[] {
  const filter = { method: "ar" as const, temperature: 0, kind: "code" as const };
  const byPhase = new Map<string, RunRecord[]>();
  for (const r of results.runs) {
    if (r.phase === undefined || !matches(r, filter)) continue;
    byPhase.set(r.phase, [...byPhase.get(r.phase) ?? [], r]);
  }
  if (byPhase.size === 0) return [];
  const tps = [...byPhase.entries()].map(([name, runs]) =>
    `${name} ${formatNumber.tokensPerSecond(throughput(runs))}`
  );
  return [
    "Each speedup is taken against autoregressive decoding run in the same phase of this report, " +
    "interleaved with the method prompt by prompt (the machine's speed drifts over a run); the " +
    "Autoregressive row pools every phase. Autoregressive tok/s by phase: " + tps.join(", ") +
    ".",
  ];
}

/**
 * The headline section: the greedy table, the sampling table when the run
 * sampled, and the charts.
 *
 * @param results The benchmark results.
 * @returns Markdown lines.
 */
export function headlineSection(results: BenchmarkResults): string[] {
  const md = ["## Headline (greedy, code prompts)", ""];
  md.push(
    "Each speculative method at its fastest setting of this run's sweeps below (K, tree size or " +
      "EAGLE shape, named in the row); f32 weights.",
  );
  md.push("");
  const note = baselineNote(results);
  if (note.length > 0) md.push(...note, "");
  md.push(...headlineTable(results, 0));
  const sampled = results.runs.find((r) => r.temperature > 0 && (r.weights ?? "f32") === "f32");
  if (sampled !== undefined) {
    const t = sampled.temperature;
    md.push("");
    md.push(`### Sampling (temperature ${t}, code prompts)`);
    md.push("");
    md.push(
      "Exact rejection sampling (draft-target, Medusa tree, EAGLE) keeps the target's distribution, so the outputs differ from greedy but not in distribution. Each method at its best greedy setting and, where that has a lookup branch, without it (copied tokens are verified as point masses, which a sampled token matches less often), Medusa also with its 4-node tree alone; the fastest per method is named best: the CLI and the server use it when they sample.",
    );
    md.push("");
    md.push(...headlineTable(results, t));
  }
  md.push("");
  md.push("![Speedup by method and K](speedup.svg)");
  md.push("");
  md.push("![Per-position acceptance](acceptance.svg)");
  return md;
}
