/**
 * `decodeRuns`: runs decoder configurations on the benchmark's prompts and
 * returns the raw records of {@linkcode RunRecord}. It only sees the
 * `LanguageModel` / `PredictionHeads` / `FeatureDrafter` interfaces and the
 * project's decoders; loading and file output live in `main.ts`.
 *
 * @module
 */

import {
  type DecodeMetrics,
  type Decoder,
  DraftTargetDecoder,
  type GenerateResult,
} from "../../mod.ts";
import type { Precision } from "./results.ts";
import {
  type BenchConfig,
  type BenchModels,
  type BenchPrompt,
  configLabel,
} from "./bench_config.ts";
import { makeDecoder } from "./make_decoder.ts";
import type { RunRecord } from "./results.ts";

/** Options of {@linkcode decodeRuns}. */
export interface DecodeRunsOptions {
  /** Prompts. */
  prompts: BenchPrompt[];
  /** Configurations. */
  configs: BenchConfig[];
  /** New tokens per generation. */
  maxNewTokens: number;
  /** PRNG seed of the sampled runs. */
  seed: number;
  /**
   * Generations per (configuration, prompt); the fastest is kept (default 1).
   * Every repeat produces the same tokens (same seed), so only the time differs:
   * keeping the fastest filters out interruptions by other work on the machine.
   */
  repeats?: number;
  /** Weight precision of the models, written into each record unless f32 (default f32). */
  weights?: Precision;
  /**
   * The report phase these runs belong to, written into each record: a run's speedup is taken
   * against the autoregressive run of its own phase (`paired_baseline.ts`), so a phase's
   * configurations should include autoregressive decoding (`withBaselines` in `run_plan.ts`).
   */
  phase?: string;
  /** Called after each run (progress). */
  onRun?: (done: number, total: number, label: string) => Promise<void> | void;
}

/**
 * Writes a draft-target run's schedule, K bounds (as the decoder resolved
 * them) and confidence threshold into its record, when the configuration set
 * them.
 */
function recordSetting(rec: RunRecord, c: BenchConfig, decoder: Decoder): void {
  if (c.schedule !== undefined) rec.schedule = c.schedule;
  if (c.confidence !== undefined) rec.confidence = c.confidence;
  if (decoder instanceof DraftTargetDecoder && decoder.schedule === "heuristic") {
    rec.kRange = [decoder.minSpeculativeTokens, decoder.maxSpeculativeTokens];
  }
}

/** Steps that checked position i+1: it was offered and every earlier position accepted. */
function checkedPositions(m: DecodeMetrics): number[] {
  return m.draftedPerPosition.map((d, i) =>
    i === 0 ? d : Math.min(d, m.acceptedPerPosition[i - 1] ?? 0)
  );
}

/**
 * Runs every configuration on its prompts (prompts in the outer loop, so slow
 * drifts of the machine's load touch every method alike), one warm-up
 * generation per configuration first.
 *
 * @param modelsFor The models (target, draft, heads, tokenizer) a configuration runs on
 *   (methods may use models loaded with different runtime settings).
 * @param options Prompts, configurations, token budget, seed, progress callback.
 * @returns One record per (configuration, prompt).
 */
export async function decodeRuns(
  modelsFor: (config: BenchConfig) => BenchModels,
  options: DecodeRunsOptions,
): Promise<RunRecord[]> {
  const decoders = options.configs.map((c) =>
    makeDecoder(modelsFor(c), c, options.maxNewTokens, options.seed)
  );
  const warmPrompt = options.prompts[0]?.ids ?? [0];
  for (const d of decoders) await d.generate(warmPrompt, { maxNewTokens: 4 });
  const jobs: [BenchPrompt, number][] = [];
  for (const p of options.prompts) {
    options.configs.forEach((c, i) => {
      if (c.kinds.includes(p.kind)) jobs.push([p, i]);
    });
  }
  // Repeats run as whole passes over the jobs (not back to back), so a burst of load on the
  // machine slows one generation of several configurations rather than every repeat of one.
  const repeats = Math.max(1, options.repeats ?? 1);
  const fastest: (GenerateResult | undefined)[] = jobs.map(() => undefined);
  let done = 0;
  for (let r = 0; r < repeats; r++) {
    for (let j = 0; j < jobs.length; j++) {
      const [prompt, i] = jobs[j]!;
      const result = await decoders[i]!.generate(prompt.ids, { seed: options.seed });
      const prev = fastest[j];
      if (prev === undefined || result.metrics.wallTimeMs < prev.metrics.wallTimeMs) {
        fastest[j] = result;
      }
      done++;
      await options.onRun?.(
        done,
        jobs.length * repeats,
        `${configLabel(options.configs[i]!)} ${prompt.id}`,
      );
    }
  }
  const records: RunRecord[] = [];
  for (let j = 0; j < jobs.length; j++) {
    const [prompt, i] = jobs[j]!;
    const c = options.configs[i]!;
    const result = fastest[j]!;
    const m = result.metrics;
    const rec: RunRecord = {
      method: c.method,
      temperature: c.temperature,
      ...(options.phase !== undefined ? { phase: options.phase } : {}),
      promptId: prompt.id,
      promptKind: prompt.kind,
      newTokens: m.newTokens,
      wallTimeMs: m.wallTimeMs,
      targetForwards: m.targetForwards,
      draftForwards: m.draftForwards,
      drafted: m.drafted,
      accepted: m.accepted,
      steps: m.steps,
      verifiedTokens: m.verifiedTokens,
      meanAcceptedLength: m.meanAcceptedLength,
      acceptedAtPosition: [...m.acceptedPerPosition],
      checkedAtPosition: checkedPositions(m),
      tokens: [...result.tokens],
      targetStepMs: m.targetStepMs,
      draftStepMs: m.draftStepMs,
      draftSteps: m.draftSteps,
      prefillMs: m.prefillMs,
    };
    if (c.k !== undefined) rec.k = c.k;
    if (c.tree !== undefined) rec.tree = c.tree;
    if (options.weights !== undefined && options.weights !== "f32") rec.weights = options.weights;
    if (c.drafterWeights !== undefined && c.drafterWeights !== (options.weights ?? "f32")) {
      rec.drafterWeights = c.drafterWeights;
    }
    if (c.lookup !== undefined && c.lookup > 0) rec.lookup = c.lookup;
    recordSetting(rec, c, decoders[i]!);
    records.push(rec);
  }
  return records;
}
