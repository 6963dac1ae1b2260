/**
 * Runs the benchmark behind `deno task bench:report`: measures the cost
 * model (c, V) with single forwards, then every decoder configuration on the
 * same prompts, and returns the raw records of {@linkcode BenchmarkResults}.
 * It only sees the `LanguageModel` / `PredictionHeads` interfaces and the
 * project's decoders; loading and file output live in `bench/report.ts`.
 *
 * @module
 */

import {
  AutoregressiveDecoder,
  DraftTargetDecoder,
  MedusaDecoder,
  PromptLookupDecoder,
} from "../mod.ts";
import type {
  DecodeMetrics,
  Decoder,
  DecodingConfig,
  LanguageModel,
  PredictionHeads,
  TextTokenizer,
} from "../mod.ts";
import {
  type BenchMethod,
  type BenchSchedule,
  type CostModel,
  type PromptKind,
  type RunRecord,
  settingLabel,
} from "./report_model.ts";

/** A prompt of the fixed set, already tokenized. */
export interface BenchPrompt {
  /** Stable id (from the fixtures). */
  id: string;
  /** Code (held-out split) or prose. */
  kind: PromptKind;
  /** Token ids fed to every engine. */
  ids: number[];
}

/** One decoder configuration of the benchmark. */
export interface BenchConfig {
  /** Method. */
  method: BenchMethod;
  /** K (speculative, lookup). */
  k?: number;
  /** Medusa tree nodes. */
  tree?: number;
  /** Draft-target K schedule (speculative); absent: `constant`. */
  schedule?: BenchSchedule;
  /** Draft-target confidence threshold of the early stop (speculative); absent: 0, disabled. */
  confidence?: number;
  /** Temperature (0 greedy). */
  temperature: number;
  /** Which prompts it runs on. */
  kinds: PromptKind[];
}

/** The models a benchmark runs on. */
export interface BenchModels {
  /** Target model. */
  target: LanguageModel;
  /** Draft model. */
  draft: LanguageModel;
  /** Medusa heads of the target, if any. */
  heads?: PredictionHeads;
  /** Shared tokenizer. */
  tokenizer: TextTokenizer;
}

/** Options of {@linkcode runBenchmark}. */
export interface RunBenchmarkOptions {
  /** Prompts. */
  prompts: BenchPrompt[];
  /** Configurations. */
  configs: BenchConfig[];
  /** New tokens per generation. */
  maxNewTokens: number;
  /** Token counts S at which to time an S-token target forward. */
  verifySizes: number[];
  /** Repetitions per timing (the fastest is kept: other work on the machine only adds time). */
  timingReps: number;
  /** PRNG seed of the sampled runs. */
  seed: number;
  /**
   * Generations per (configuration, prompt); the fastest is kept (default 1).
   * Every repeat produces the same tokens (same seed), so only the time differs:
   * keeping the fastest filters out interruptions by other work on the machine.
   */
  repeats?: number;
  /** Called after each run (progress). */
  onRun?: (done: number, total: number, label: string) => Promise<void> | void;
}

/** Human-readable label of a configuration. */
export function configLabel(c: BenchConfig): string {
  const t = c.temperature > 0 ? ` T=${c.temperature}` : "";
  if (c.method === "speculative") return `draft-target ${settingLabel(c)}${t}`;
  if (c.method === "lookup") return `lookup K=${c.k}${t}`;
  if (c.method === "medusa") return `medusa ${c.tree}${t}`;
  return `autoregressive${t}`;
}

function fastest(xs: number[]): number {
  return Math.min(...xs);
}

/**
 * Times single forwards: a one-token target step, S-token target forwards,
 * a one-token draft step and one heads call, each after prefilling `prompt`
 * (so attention sees a realistic context), rewinding after every forward.
 */
export async function measureCost(
  models: BenchModels,
  prompt: number[],
  verifySizes: number[],
  reps: number,
): Promise<CostModel> {
  const time = async (fn: () => Promise<unknown>): Promise<number> => {
    await fn(); // warm-up
    const xs: number[] = [];
    for (let i = 0; i < reps; i++) {
      const t0 = performance.now();
      await fn();
      xs.push(performance.now() - t0);
    }
    return fastest(xs);
  };
  const step = async (model: LanguageModel, s: number, hidden = false): Promise<number> => {
    await model.prefill(prompt);
    const p = model.kvLength;
    const ids = Array.from({ length: s }, (_, i) => prompt[(i + 1) % prompt.length]!); // [S]
    const positions = Array.from({ length: s }, (_, i) => p + i); // [S]
    return await time(async () => {
      await model.forward(ids, positions, hidden ? { hidden: true } : {});
      model.rewind(p);
    });
  };
  const verifyMs: Record<string, number> = {};
  for (const s of [...new Set([1, ...verifySizes])].sort((a, b) => a - b)) {
    verifyMs[String(s)] = await step(models.target, s);
  }
  const cost: CostModel = {
    targetStepMs: verifyMs["1"]!,
    draftStepMs: await step(models.draft, 1),
    verifyMs,
  };
  if (models.heads !== undefined) {
    const heads = models.heads;
    await models.target.prefill(prompt);
    const p = models.target.kvLength;
    const out = await models.target.forward([prompt[0]!], [p], { hidden: true });
    const hidden = out.hidden ?? new Float32Array(models.target.hiddenSize); // [hiddenSize] f32
    cost.headsStepMs = await time(() => heads.forward(hidden));
  }
  return cost;
}

function makeDecoder(
  models: BenchModels,
  c: BenchConfig,
  maxNewTokens: number,
  seed: number,
): Decoder {
  const config: DecodingConfig = { temperature: c.temperature, maxNewTokens, seed };
  const tokenizer = models.tokenizer;
  switch (c.method) {
    case "ar":
      return new AutoregressiveDecoder({ model: models.target, tokenizer, config });
    case "speculative":
      return new DraftTargetDecoder({
        draftModel: models.draft,
        targetModel: models.target,
        tokenizer,
        config: {
          ...config,
          numSpeculativeTokens: c.k ?? 5,
          schedule: c.schedule ?? "constant",
          ...(c.confidence !== undefined ? { confidenceThreshold: c.confidence } : {}),
        },
      });
    case "lookup":
      return new PromptLookupDecoder({
        model: models.target,
        tokenizer,
        config: { ...config, numSpeculativeTokens: c.k ?? 5 },
      });
    case "medusa":
      if (models.heads === undefined) throw new TypeError("medusa runs need Medusa heads");
      return new MedusaDecoder({
        baseModel: models.target,
        heads: models.heads,
        tokenizer,
        config: { ...config, treeWidth: c.tree ?? 8 },
      });
  }
}

/**
 * Throughput of autoregressive and draft-target (constant K) decoding of one
 * prompt, fastest of two greedy generations each after a short warm-up: how
 * the thread probe compares runtime settings.
 *
 * @param models Models loaded with the setting under test.
 * @param prompt Prompt token ids.
 * @param k Draft-target K.
 * @param maxNewTokens Tokens per generation.
 * @param withAr False to skip autoregressive decoding (a setting that only changes the draft).
 * @returns Tokens/s of both methods (`ar` undefined when skipped).
 */
export async function probeSpeed(
  models: BenchModels,
  prompt: number[],
  k: number,
  maxNewTokens: number,
  withAr = true,
): Promise<{ ar: number | undefined; speculative: number }> {
  const speed = async (d: Decoder): Promise<number> => {
    await d.generate(prompt, { maxNewTokens: 4 });
    let best = 0;
    for (let i = 0; i < 2; i++) {
      best = Math.max(best, (await d.generate(prompt)).metrics.tokensPerSecond);
    }
    return best;
  };
  const ar = withAr
    ? await speed(
      makeDecoder(models, { method: "ar", temperature: 0, kinds: [] }, maxNewTokens, 0),
    )
    : undefined;
  const speculative = await speed(
    makeDecoder(models, { method: "speculative", k, temperature: 0, kinds: [] }, maxNewTokens, 0),
  );
  return { ar, speculative };
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
export async function runBenchmark(
  modelsFor: (config: BenchConfig) => BenchModels,
  options: RunBenchmarkOptions,
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
  const records: RunRecord[] = [];
  let done = 0;
  for (const [prompt, i] of jobs) {
    const c = options.configs[i]!;
    let result = await decoders[i]!.generate(prompt.ids, { seed: options.seed });
    for (let r = 1; r < (options.repeats ?? 1); r++) {
      const again = await decoders[i]!.generate(prompt.ids, { seed: options.seed });
      if (again.metrics.wallTimeMs < result.metrics.wallTimeMs) result = again;
    }
    const m = result.metrics;
    const rec: RunRecord = {
      method: c.method,
      temperature: c.temperature,
      promptId: prompt.id,
      promptKind: prompt.kind,
      newTokens: m.newTokens,
      wallTimeMs: m.wallTimeMs,
      targetForwards: m.targetForwards,
      draftForwards: m.draftForwards,
      drafted: m.drafted,
      accepted: m.accepted,
      meanAcceptedLength: m.meanAcceptedLength,
      acceptedAtPosition: [...m.acceptedPerPosition],
      checkedAtPosition: checkedPositions(m),
      tokens: [...result.tokens],
      targetStepMs: m.targetStepMs,
      draftStepMs: m.draftStepMs,
    };
    if (c.k !== undefined) rec.k = c.k;
    if (c.tree !== undefined) rec.tree = c.tree;
    recordSetting(rec, c, decoders[i]!);
    records.push(rec);
    done++;
    await options.onRun?.(done, jobs.length, `${configLabel(c)} ${prompt.id}`);
  }
  return records;
}
