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

/**
 * The drafter's weight precision where the report measured a cheaper one faster than the
 * target's (absent: the target's). It only changes what is proposed, never the output.
 */
export interface DrafterPrecision {
  /** The draft model's, the Medusa heads' or the EAGLE head's weight precision. */
  readonly drafter?: WeightPrecision;
}

/**
 * The prompt-lookup branch where the report measured it faster (absent: none): up to `lookup`
 * tokens copied from the context join each step's draft (`lookupTokens` of the decoders).
 */
export interface LookupBranchDefault {
  /** Most tokens the branch copies per step. */
  readonly lookup?: number;
}

/** One precision's defaults, shaped like the report's sweep points (`k`, `tree`). */
export interface MeasuredDefaults {
  /** Draft-target: K, draft tokens per step; the draft's precision; the lookup branch. */
  readonly speculative: { readonly k: number } & DrafterPrecision & LookupBranchDefault;
  /** Medusa: the tree's size in nodes (one of the shipped trees); the heads' precision; the lookup branch. */
  readonly medusa: { readonly tree: number } & DrafterPrecision & LookupBranchDefault;
  /** Prompt lookup: K, tokens copied after a match. */
  readonly lookup: { readonly k: number };
  /**
   * EAGLE: a dynamic tree of `tree` draft nodes (depth and branching the decoder's defaults
   * for that size), or a chain of `k` tokens; the head's precision.
   */
  readonly eagle:
    & ({ readonly tree: number } | { readonly k: number })
    & DrafterPrecision
    & LookupBranchDefault;
  /** The fastest of the four at this precision (highest speedup over autoregressive). */
  readonly fastest: SpeculativeMethod;
  /**
   * The settings each method samples with (temperature > 0) where the report measured them
   * (absent: the greedy ones above). A method's drafter precision stays the greedy entry's: it
   * is chosen when the models load, before any request's temperature is known.
   */
  readonly sampling?: SamplingDefaults;
}

/**
 * Each method's fastest setting with sampling ({@linkcode MeasuredDefaults.sampling}); a method
 * absent here samples with its greedy setting. An entry without `lookup` samples without the
 * branch.
 */
export interface SamplingDefaults {
  /** Draft-target: K and the lookup branch. */
  readonly speculative?: { readonly k: number } & LookupBranchDefault;
  /** Medusa: the tree's size and the lookup branch. */
  readonly medusa?: { readonly tree: number } & LookupBranchDefault;
  /** Prompt lookup: K. */
  readonly lookup?: { readonly k: number };
  /** EAGLE: a dynamic tree of `tree` nodes or a chain of `k`, and the lookup branch. */
  readonly eagle?: ({ readonly tree: number } | { readonly k: number }) & LookupBranchDefault;
}

/**
 * The defaults a request gets at a precision and temperature: {@linkcode MEASURED_DEFAULTS}'s
 * row, with its `sampling` settings in place of the greedy ones when `temperature > 0` (each
 * method keeping its greedy drafter precision).
 *
 * @param weights The target's weight precision.
 * @param temperature The request's temperature.
 * @returns The row to take K, tree and lookup branch from.
 *
 * @example Greedy and sampling defaults at f32
 * ```ts
 * import { measuredDefaultsFor } from "@specdec/specdec/cli";
 * const greedy = measuredDefaultsFor("f32", 0), sampled = measuredDefaultsFor("f32", 1);
 * if (greedy.medusa.drafter !== sampled.medusa.drafter) throw new Error("unexpected");
 * ```
 */
export function measuredDefaultsFor(
  weights: WeightPrecision,
  temperature: number,
): MeasuredDefaults {
  const row = MEASURED_DEFAULTS[weights];
  const s = row.sampling;
  if (!(temperature > 0) || s === undefined) return row;
  const keep = (d: DrafterPrecision) => (d.drafter !== undefined ? { drafter: d.drafter } : {});
  return {
    ...row,
    speculative: s.speculative ? { ...s.speculative, ...keep(row.speculative) } : row.speculative,
    medusa: s.medusa ? { ...s.medusa, ...keep(row.medusa) } : row.medusa,
    lookup: s.lookup ?? row.lookup,
    eagle: s.eagle ? { ...s.eagle, ...keep(row.eagle) } : row.eagle,
  };
}

/**
 * Each method's best measured setting per weight precision: what `generate`, `demo` and
 * `serve` use when no `--k` / `--tree` / `--lookup` (or request `speculation.k` / `tree` /
 * `lookup`) is given, and which method the demo shows.
 *
 * Source: `deno task bench:report` of 2026-11-30 20:21 UTC (`results/benchmark_results.json`,
 * "Recommended defaults" in `results/REPORT.md`): bench pair (`models/bench-target`,
 * `models/bench-draft`, its `medusa/` and `eagle/` heads), greedy, 8 held-out code prompts x 128
 * tokens, 2 cores; q8/q4 draft models and EAGLE heads with int8 activations. Speedups are over
 * autoregressive decoding at the same precision, run in the same phase of the report.
 *
 * - f32, from the sweeps, the quantized-drafter runs and the lookup-branch runs: draft-target K=4
 *   with a q4 draft and a lookup branch of 32 (2.69x), Medusa 4-node tree with q4 heads and a
 *   branch of 16 (2.10x; heads alone 1.31x), prompt lookup K=5 (2.00x), EAGLE chain K=4 with a q4
 *   head and a branch of 32 (2.52x). Fastest: draft-target.
 * - f32 with sampling (temperature 1, the `sampling` table): draft-target K=4 without the branch
 *   (1.43x), Medusa 4-node tree without the branch (1.08x), prompt lookup K=5 (0.94x), EAGLE
 *   chain K=4 without the branch (1.50x).
 * - q8, from the precision section: draft-target K=3 + lookup 8 (1.84x), Medusa 4-node tree +
 *   lookup 8 (1.48x), prompt lookup K=3 (1.66x), EAGLE chain K=4 + lookup 8 (1.75x). Fastest:
 *   draft-target.
 * - q4, from the precision section: draft-target K=3 + lookup 8 (1.75x), Medusa 4-node tree +
 *   lookup 8 (1.45x), prompt lookup K=3 (1.67x), EAGLE chain K=4 + lookup 8 (1.62x). Fastest:
 *   draft-target.
 *
 * At q8 and q4 the report sweeps fewer points than at f32 (around the f32 best); a method the
 * report has no measurement for at a precision takes its f32 value.
 * `tests/cli/measured_defaults_test.ts` checks this table against
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
    speculative: { k: 4, drafter: "q4", lookup: 32 },
    medusa: { tree: 4, drafter: "q4", lookup: 16 },
    lookup: { k: 5 },
    eagle: { k: 4, drafter: "q4", lookup: 32 },
    fastest: "speculative",
    sampling: {
      speculative: { k: 4 },
      medusa: { tree: 4 },
      lookup: { k: 5 },
      eagle: { k: 4 },
    },
  },
  q8: {
    speculative: { k: 3, lookup: 8 },
    medusa: { tree: 4, lookup: 8 },
    lookup: { k: 3 },
    eagle: { k: 4, lookup: 8 },
    fastest: "speculative",
  },
  q4: {
    speculative: { k: 3, lookup: 8 },
    medusa: { tree: 4, lookup: 8 },
    lookup: { k: 3 },
    eagle: { k: 4, lookup: 8 },
    fastest: "speculative",
  },
};
