/**
 * `MEASURED_DEFAULTS`: the speculation settings the CLI (and the server) use when a request
 * names no `--k` / `--tree`: each method's best measured setting per weight precision, from the
 * benchmark report.
 *
 * @module
 */

import type { WeightPrecision } from "../model/graph/quantize_blockwise.ts";

/** The speculative methods the table covers (`--method` values). */
export type SpeculativeMethod = "speculative" | "medusa" | "lookup" | "eagle";

/** One precision's defaults, shaped like the report's sweep points (`k`, `tree`). */
export interface MeasuredDefaults {
  /** Draft-target: K, draft tokens per step. */
  readonly speculative: { readonly k: number };
  /** Medusa: the tree's size in nodes (one of the shipped trees). */
  readonly medusa: { readonly tree: number };
  /** Prompt lookup: K, tokens copied after a match. */
  readonly lookup: { readonly k: number };
  /**
   * EAGLE: a dynamic tree of `tree` draft nodes (depth and branching the decoder's defaults
   * for that size), or a chain of `k` tokens.
   */
  readonly eagle: { readonly tree: number } | { readonly k: number };
  /** The fastest of the four at this precision (highest speedup over autoregressive). */
  readonly fastest: SpeculativeMethod;
}

/**
 * Each method's best measured setting per weight precision: what `generate`, `demo` and
 * `serve` use when no `--k` / `--tree` (or request `speculation.k` / `tree`) is given, and
 * which method the demo shows.
 *
 * Source: `deno task bench:report` of 2026-11-30 03:57 UTC (`results/benchmark_results.json`,
 * "Recommended defaults" in `results/REPORT.md`): bench pair (`models/bench-target`,
 * `models/bench-draft`, its `medusa/` and `eagle/` heads), greedy, 8 held-out code prompts x 128
 * tokens, 2 cores. Speedups are over autoregressive decoding at the same precision.
 *
 * - f32, from the sweeps: draft-target K=4 (1.37x; K 1-8 swept), Medusa 4-node tree (0.89x;
 *   4, 8, 16, 64), prompt lookup K=8 (2.02x; K 2, 3, 5, 8), EAGLE 4-node tree (0.91x; chains
 *   K 2-5, trees 4, 8, 16). Fastest: prompt lookup.
 * - q8, from the precision section: draft-target K=3 (1.51x; K 3, 4, 5), Medusa 4-node tree
 *   (1.08x), prompt lookup K=8 (1.60x), EAGLE 4-node tree (1.05x). Fastest: prompt lookup.
 * - q4, from the precision section: draft-target K=3 (1.32x; K 3, 4, 5), Medusa 4-node tree
 *   (0.93x), prompt lookup K=8 (1.40x), EAGLE 4-node tree (0.85x). Fastest: prompt lookup.
 *
 * That run measured Medusa, prompt lookup and EAGLE at q8 and q4 at one setting each, the f32
 * best (no sweep at those precisions), so those entries are the f32 values confirmed as
 * measured, not chosen among alternatives. A method the report has no measurement for at a
 * precision takes its f32 value. `tests/cli/measured_defaults_test.ts` checks this table against
 * `results/benchmark_results.json`, so a regenerated report that moves a best setting fails
 * that test until the table follows.
 *
 * @example The q4 draft-target K
 * ```ts
 * import { MEASURED_DEFAULTS } from "@specdec/specdec/cli";
 * const { speculative, fastest } = MEASURED_DEFAULTS.q4;
 * if (speculative.k < 1 || speculative.k > 32) throw new Error("unexpected");
 * if (!["speculative", "medusa", "lookup", "eagle"].includes(fastest)) throw new Error("unexpected");
 * ```
 */
export const MEASURED_DEFAULTS: Readonly<Record<WeightPrecision, MeasuredDefaults>> = {
  f32: {
    speculative: { k: 4 },
    medusa: { tree: 4 },
    lookup: { k: 8 },
    eagle: { tree: 4 },
    fastest: "lookup",
  },
  q8: {
    speculative: { k: 3 },
    // Measured at the f32 best tree only.
    medusa: { tree: 4 },
    // Measured at the f32 best K only.
    lookup: { k: 8 },
    // Measured at the f32 best shape only.
    eagle: { tree: 4 },
    fastest: "lookup",
  },
  q4: {
    speculative: { k: 3 },
    // Measured at the f32 best tree only.
    medusa: { tree: 4 },
    // Measured at the f32 best K only.
    lookup: { k: 8 },
    // Measured at the f32 best shape only.
    eagle: { tree: 4 },
    fastest: "lookup",
  },
};
