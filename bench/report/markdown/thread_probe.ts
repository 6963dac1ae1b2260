/**
 * `threadProbeSection`: the table of runtime settings tried before the runs.
 *
 * @module
 */

import { formatNumber } from "../../../mod.ts";
import type { BenchmarkResults } from "../results.ts";
import { runtimeLine } from "./runtime_line.ts";

/**
 * The thread probe's table (nothing when the run had a fixed `--threads`).
 *
 * @param results The benchmark results.
 * @returns Markdown lines.
 */
export function threadProbeSection(results: BenchmarkResults): string[] {
  const probe = results.settings.threadProbe;
  if (probe === undefined || probe.length === 0) return [];
  const mixed = probe.some((p) => p.draftThreads !== undefined);
  const out = [
    "Runtime settings probed first (short greedy generations on the first code prompt, two " +
    "passes over the settings, each setting's fastest kept). Each method then ran with the fastest setting for its kind: " +
    runtimeLine(results) + ".",
    "",
  ];
  if (mixed) {
    out.push(
      "Draft threads are the intra-op threads of the draft session (and of the Medusa heads when " +
        "Medusa ran with that setting); a setting that only changes them is measured for " +
        "draft-target alone (autoregressive decoding runs no draft: -).",
      "",
    );
  }
  out.push(
    mixed
      ? "| Threads | Draft threads | Spinning | Autoregressive tok/s | Draft-target tok/s |"
      : "| Threads | Spinning | Autoregressive tok/s | Draft-target tok/s |",
    mixed ? "|---:|---:|---|---:|---:|" : "|---:|---|---:|---:|",
  );
  for (const p of probe) {
    const cells = [
      `${p.threads}`,
      ...(mixed ? [`${p.draftThreads ?? p.threads}`] : []),
      p.spinning ? "on" : "off",
      formatNumber.tokensPerSecond(p.arTokensPerSecond),
      formatNumber.tokensPerSecond(p.speculativeTokensPerSecond),
    ];
    out.push(`| ${cells.join(" | ")} |`);
  }
  out.push("");
  return out;
}
