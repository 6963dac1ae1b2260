/**
 * `precisionRuns`: one weight precision of the report's precision section:
 * V(g) of the target at a fixed context and the decoding runs at that
 * precision.
 *
 * @module
 */

import type { BenchConfig, BenchPrompt } from "./bench_config.ts";
import { decodeRuns } from "./decode_runs.ts";
import type { LoadedBenchModels } from "./load_bench_models.ts";
import { measureVerifyCurve } from "./measure_cost.ts";
import type { Precision, PrecisionCost, RunRecord } from "./results.ts";

/** Tokens of context before each V(g) forward of the precision section. */
export const PRECISION_CONTEXT_TOKENS = 256;

/** Largest g of the precision section's V(g). */
export const PRECISION_MAX_VERIFY = 8;

/** What one precision runs. */
export interface PrecisionRunOptions {
  /** The precision the models were loaded with. */
  weights: Precision;
  /** Prompts (the context is made of their ids). */
  prompts: BenchPrompt[];
  /** Decoding runs (none for f32, whose runs are the sweep's). */
  configs: BenchConfig[];
  /** New tokens per generation. */
  maxNewTokens: number;
  /** Generations per (configuration, prompt), the fastest kept. */
  repeats: number;
  /** Repetitions per forward timing. */
  timingReps: number;
  /** ms the models took to load. */
  loadMs?: number;
  /** Progress after each run. */
  onRun?: (done: number, total: number, label: string) => Promise<void> | void;
}

/**
 * The prompts' ids one after another, repeated, cut to `length` tokens: a
 * context of real text for timing forwards.
 *
 * @param prompts The prompts.
 * @param length Tokens.
 * @returns `[length]` token ids.
 */
export function contextIds(prompts: BenchPrompt[], length: number): number[] {
  const all = prompts.flatMap((p) => p.ids);
  if (all.length === 0) throw new RangeError("no prompt tokens to build a context from");
  return Array.from({ length }, (_, i) => all[i % all.length]!);
}

/**
 * Times V(g), g = 1..8, after a 256-token context, then runs the precision's
 * configurations.
 *
 * @param loaded Models loaded at `options.weights`.
 * @param options Precision, prompts, configurations, budgets.
 * @returns The timings and the runs (tagged with the precision unless f32).
 */
export async function precisionRuns(
  loaded: LoadedBenchModels,
  options: PrecisionRunOptions,
): Promise<{ cost: PrecisionCost; runs: RunRecord[] }> {
  const sizes = Array.from({ length: PRECISION_MAX_VERIFY }, (_, i) => i + 1);
  const verifyMs = await measureVerifyCurve(
    loaded.models.target,
    contextIds(options.prompts, PRECISION_CONTEXT_TOKENS),
    sizes,
    options.timingReps,
  );
  const cost: PrecisionCost = {
    weights: options.weights,
    verifyMs,
    ...(options.loadMs !== undefined ? { loadMs: options.loadMs } : {}),
  };
  if (options.configs.length === 0) return { cost, runs: [] };
  const runs = await decodeRuns(loaded.modelsFor, {
    prompts: options.prompts,
    configs: options.configs,
    maxNewTokens: options.maxNewTokens,
    seed: 1234,
    repeats: options.repeats,
    weights: options.weights,
    phase: `runs (${options.weights})`,
    ...(options.onRun !== undefined ? { onRun: options.onRun } : {}),
  });
  return { cost, runs };
}
