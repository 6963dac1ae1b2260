/**
 * `timeSplitSection`: where the wall time of autoregressive decoding and of each
 * method's best setting goes (greedy, code prompts, f32), from the decoders' own
 * timers in the runs: the target's verification forwards, the drafter's calls,
 * the prefill (target and drafter), and the rest (sampling, tree building, the
 * lookup, FFI, bookkeeping). The speedup model leaves the prefill and the rest
 * out, so this is what its efficiency column misses.
 *
 * @module
 */

import { formatNumber } from "../../../mod.ts";
import { pairedBaseline } from "../paired_baseline.ts";
import type { BenchmarkResults, RunRecord } from "../results.ts";
import { matches } from "../summarize.ts";
import { headlineRows } from "./headline.ts";

/** Mean per generation of one row's runs, ms; undefined without the timers. */
export interface TimeSplit {
  /** Generations pooled. */
  runs: number;
  /** Target verification forwards after the prefill, per generation. */
  steps: number;
  /** Wall time. */
  wallMs: number;
  /** Target and drafter prefill. */
  prefillMs: number;
  /** Target verification forwards. */
  targetMs: number;
  /** Drafter calls after the prefill (draft forwards, Medusa heads, EAGLE head). */
  drafterMs: number;
  /** The rest: wall - prefill - target - drafter. */
  otherMs: number;
}

/**
 * Pools the timers of some runs.
 *
 * @param sel The runs of one row (or of its autoregressive baseline).
 * @returns Means per generation, or undefined without runs or when a run lacks the timers
 *   (older results).
 */
export function timeSplit(sel: readonly RunRecord[]): TimeSplit | undefined {
  if (sel.length === 0) return undefined;
  let steps = 0, wall = 0, prefill = 0, target = 0, drafter = 0;
  for (const r of sel) {
    if (r.steps === undefined || r.prefillMs === undefined || r.targetStepMs === undefined) {
      return undefined;
    }
    steps += r.steps;
    wall += r.wallTimeMs;
    prefill += r.prefillMs;
    target += r.steps * r.targetStepMs;
    drafter += (r.draftSteps ?? 0) * (r.draftStepMs ?? 0);
  }
  const n = sel.length;
  return {
    runs: n,
    steps: steps / n,
    wallMs: wall / n,
    prefillMs: prefill / n,
    targetMs: target / n,
    drafterMs: drafter / n,
    otherMs: (wall - prefill - target - drafter) / n,
  };
}

/**
 * The section: one row for autoregressive decoding and each method at its best greedy setting
 * (the headline's rows); empty when the runs lack the timers (results written before them).
 *
 * @param results The benchmark results.
 * @returns Markdown lines.
 */
export function timeSplitSection(results: BenchmarkResults): string[] {
  const f = formatNumber;
  const rows = headlineRows(results, 0).map((row) => {
    const sel = results.runs.filter((r) => matches(r, row.filter));
    // Each method's decode-phase speedup is against the autoregressive runs of its own phase.
    const base = row.filter.method === "ar" ? sel : pairedBaseline(results.runs, sel).runs;
    return { row, t: timeSplit(sel), ar: timeSplit(base) };
  });
  if (rows.some((x) => x.t === undefined || x.ar === undefined)) return [];
  const pct = (part: number, whole: number): string =>
    whole > 0 ? `${f.fixed(100 * part / whole, 0)}%` : "-";
  const out = [
    "### Where the time goes (greedy, code prompts)",
    "",
    "Mean per generation of autoregressive decoding and each method's best setting, from the decoders' own timers: the target's verification forwards, the drafter's calls after the prefill, the prefill of the target and the drafter (paid once per generation, by every method), and the rest (sampling, tree building, the lookup, FFI and bookkeeping). Per step: divided by the target steps after the prefill. The speedup model above counts only the forwards, so the prefill and the rest are the time its efficiency column misses. Decode-phase speedup: autoregressive wall time (the runs measured beside the method's, in its phase) over the method's, both without their prefill.",
    "",
    "| Method | Steps | ms / step | target forward | drafter | prefill (per step) | rest | prefill share of wall time | decode-phase speedup |",
    "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
  ];
  for (const { row, t, ar } of rows) {
    if (t === undefined || ar === undefined || t.steps <= 0) continue;
    const per = (ms: number): string => f.ms(ms / t.steps);
    const decode = t.wallMs - t.prefillMs;
    out.push(
      `| ${row.name} | ${f.fixed(t.steps, 1)} | ${per(t.wallMs)} | ${per(t.targetMs)} | ${
        per(t.drafterMs)
      } | ${per(t.prefillMs)} | ${per(t.otherMs)} | ${pct(t.prefillMs, t.wallMs)} | ${
        decode > 0 ? `${f.fixed((ar.wallMs - ar.prefillMs) / decode, 2)}x` : "-"
      } |`,
    );
  }
  return out;
}
