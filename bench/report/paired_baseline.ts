/**
 * `pairedBaseline`: the autoregressive runs a configuration's speedup is taken against.
 *
 * The machine's speed drifts over a report run (a shared VM: ±8% between runs and more within
 * one), so a configuration measured minutes after the autoregressive runs carries that drift in
 * its ratio. Every decoding phase of the report therefore runs autoregressive decoding itself,
 * interleaved prompt by prompt with the phase's configurations, and tags its records with the
 * phase: a run's baseline is the autoregressive run of the same phase, prompt, temperature and
 * target precision.
 *
 * @module
 */

import type { RunRecord } from "./results.ts";

/** True when `ar` is the autoregressive run paired with `run` (same phase and prompt). */
function pairs(ar: RunRecord, run: RunRecord): boolean {
  return ar.method === "ar" && ar.phase === run.phase && ar.promptId === run.promptId &&
    ar.temperature === run.temperature && (ar.weights ?? "f32") === (run.weights ?? "f32");
}

/**
 * The autoregressive runs paired with `runs`: for each run, the one of the same phase, prompt,
 * temperature and target precision. When a run has no phase or no such partner (results
 * written before the phases), every autoregressive run at the same temperature and precision
 * on the same prompts, whatever its phase.
 *
 * @param all Every run of the report.
 * @param runs One configuration's runs.
 * @returns The baseline runs, with `paired` true when every run found its own partner; the
 *   runs are empty when no autoregressive run fits.
 *
 * @example A run measured beside its own baseline
 * ```ts
 * import { pairedBaseline } from "./paired_baseline.ts";
 * import type { RunRecord } from "./results.ts";
 * const base = { temperature: 0, promptId: "a", promptKind: "code" as const, newTokens: 8,
 *   wallTimeMs: 40, targetForwards: 9, draftForwards: 0, drafted: 0, accepted: 0,
 *   meanAcceptedLength: 1, acceptedAtPosition: [], checkedAtPosition: [], tokens: [] };
 * const early: RunRecord = { ...base, method: "ar", phase: "sweeps" };
 * const late: RunRecord = { ...base, method: "ar", phase: "lookup branch", wallTimeMs: 30 };
 * const run: RunRecord = { ...base, method: "lookup", k: 3, phase: "lookup branch" };
 * const b = pairedBaseline([early, late, run], [run]);
 * if (!b.paired || b.runs[0] !== late) throw new Error("unexpected");
 * ```
 */
export function pairedBaseline(
  all: readonly RunRecord[],
  runs: readonly RunRecord[],
): { runs: RunRecord[]; paired: boolean } {
  const own: RunRecord[] = [];
  for (const run of runs) {
    const ar = run.phase === undefined ? undefined : all.find((a) => pairs(a, run));
    if (ar === undefined) {
      const ids = new Set(runs.map((r) => r.promptId));
      const sample = runs[0];
      const pooled = sample === undefined
        ? []
        : all.filter((a) =>
          a.method === "ar" && ids.has(a.promptId) && a.temperature === sample.temperature &&
          (a.weights ?? "f32") === (sample.weights ?? "f32")
        );
      return { runs: pooled, paired: false };
    }
    own.push(ar);
  }
  return { runs: own, paired: true };
}
