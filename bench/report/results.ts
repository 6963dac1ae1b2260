/**
 * The benchmark report's data model: what `bench/report/main.ts` measures and
 * writes to `results/benchmark_results.json` ({@linkcode BenchmarkResults}).
 * The pure functions that turn those raw runs into the report's figures live
 * beside it (`summarize.ts`, `speedup_model.ts`, `draft_settings.ts`,
 * `best_setting.ts`); nothing here measures or touches files.
 *
 * @module
 */

import type { CausalLMOptions } from "../../mod.ts";

/** Weight precision of a run: `CausalLM.load`'s `weights` (`f32`, `q8`, `q4`). */
export type Precision = NonNullable<CausalLMOptions["weights"]>;

/** Decoding methods measured by the benchmark. */
export type BenchMethod = "ar" | "speculative" | "medusa" | "lookup" | "eagle";

/**
 * How draft-target's K changes between steps (the decoder's `schedule`):
 * `constant` always drafts K; `heuristic` grows K after a fully accepted step
 * and shrinks it after a rejection.
 */
export type BenchSchedule = "constant" | "heuristic";

/** Kinds of prompt in the fixed prompt set. */
export type PromptKind = "code" | "prose";

/** One generation of one prompt by one decoder configuration. */
export interface RunRecord {
  /** Decoding method. */
  method: BenchMethod;
  /** Speculation length K (speculative, lookup; EAGLE: the chain length, or the tree's depth). */
  k?: number;
  /** Medusa tree size in nodes; EAGLE: draft nodes of its dynamic tree (absent or 0: a chain). */
  tree?: number;
  /** Weight precision of the target, draft and heads; absent: `f32`. */
  weights?: Precision;
  /**
   * Weight precision of the draft model, the Medusa heads or the EAGLE head when it differs
   * from `weights` (a cheaper drafter for the same target); absent: `weights`.
   */
  drafterWeights?: Precision;
  /**
   * Prompt-lookup branch of a drafting method (draft-target, Medusa, EAGLE): most tokens copied
   * from the context per step as one more candidate path (the decoders' `lookupTokens`);
   * absent: no branch.
   */
  lookup?: number;
  /** Draft-target K schedule; absent: `constant` (results written before the field existed). */
  schedule?: BenchSchedule;
  /** Draft-target confidence threshold (early stop); absent: 0, disabled. */
  confidence?: number;
  /** `[min, max]` K of the heuristic schedule (the decoder's bounds); heuristic runs only. */
  kRange?: [number, number];
  /** Sampling temperature (0 = greedy). */
  temperature: number;
  /**
   * The decoding phase of the report that ran it (`sweeps`, `lookup branch`, ...): each phase
   * runs autoregressive decoding too, and a run's speedup is taken against the autoregressive
   * run of its own phase and prompt (`paired_baseline.ts`); absent in results written before.
   */
  phase?: string;
  /** Prompt id (from `tests/fixtures/prompts.json`). */
  promptId: string;
  /** Prompt kind. */
  promptKind: PromptKind;
  /** Generated tokens. */
  newTokens: number;
  /** Wall time of the generation (prefill included) in ms. */
  wallTimeMs: number;
  /** Target forwards, prefill included when the decoder counts it. */
  targetForwards: number;
  /** Draft forwards (0 for ar, medusa, lookup; EAGLE: head forwards). */
  draftForwards: number;
  /** Proposed tokens. */
  drafted: number;
  /** Accepted proposed tokens. */
  accepted: number;
  /** Target verification forwards after the prefill (absent in results written before it). */
  steps?: number;
  /**
   * Tokens fed to the target over those steps, root included (chain tokens or tree nodes; with a
   * lookup branch its copied tokens too); absent in results written before it.
   */
  verifiedTokens?: number;
  /** Mean tokens emitted per target verification step (τ), as the decoder measured it. */
  meanAcceptedLength: number;
  /** `acceptedAtPosition[i]`: steps whose proposal at position i+1 was accepted. */
  acceptedAtPosition: number[];
  /** `checkedAtPosition[i]`: steps that checked a proposal at position i+1 (every earlier one accepted). */
  checkedAtPosition: number[];
  /** Generated token ids (greedy equality checks). */
  tokens: number[];
  /** Mean target verification forward inside this run's loop, ms (decoder-measured). */
  targetStepMs?: number;
  /** Mean draft forward or heads call inside this run's loop, ms (decoder-measured). */
  draftStepMs?: number;
  /** Draft forwards or heads calls inside the loop (absent in results written before it). */
  draftSteps?: number;
  /** Target and drafter prefill, ms (decoder-measured; absent in results written before it). */
  prefillMs?: number;
}

/** A run of a peer engine (Hugging Face transformers) on the same checkpoint and prompt. */
export interface PeerRun {
  /** `ar` = `generate()`, `speculative` = assisted generation, `lookup` = prompt lookup. */
  method: "ar" | "speculative" | "lookup";
  /** `num_assistant_tokens` or `prompt_lookup_num_tokens`. */
  k?: number;
  /** Prompt id. */
  promptId: string;
  /** Prompt kind. */
  promptKind: PromptKind;
  /** Generated tokens. */
  newTokens: number;
  /** Wall time in ms. */
  wallTimeMs: number;
  /** Generated token ids (greedy). */
  tokens: number[];
}

/** Peer results, or why they are missing. */
export interface PeerResults {
  /** `ok`, `skipped` (no Python venv) or `failed`. */
  status: "ok" | "skipped" | "failed";
  /** Why skipped or failed. */
  reason?: string;
  /** Engine name and versions, e.g. `transformers 5.1 / torch 2.10`. */
  engine?: string;
  /** Torch intra-op threads the peer used. */
  threads?: number;
  /** Runs. */
  runs: PeerRun[];
}

/** ONNX Runtime settings of a method's sessions. */
export interface RuntimeSetting {
  /** Intra-op threads of the target (and, without `draftThreads`, of every) session. */
  threads: number;
  /** Thread spinning. */
  spinning: boolean;
  /** Intra-op threads of the draft and Medusa heads sessions when they differ from `threads`. */
  draftThreads?: number;
}

/** One runtime setting tried by the thread probe. */
export interface ThreadProbe extends RuntimeSetting {
  /**
   * Autoregressive tokens/s; absent for a setting that only changes the draft
   * (autoregressive decoding runs no draft).
   */
  arTokensPerSecond?: number;
  /** Draft-target (headline K) tokens/s. */
  speculativeTokensPerSecond: number;
}

/** Timings of single forwards, from which c and V(g) come. */
export interface CostModel {
  /** Fastest (of the repetitions) ms of a 1-token target forward at the benchmark's context length. */
  targetStepMs: number;
  /** Fastest (of the repetitions) ms of a 1-token draft forward. */
  draftStepMs: number;
  /** Fastest (of the repetitions) ms of one Medusa heads evaluation, when heads exist. */
  headsStepMs?: number;
  /** Fastest (of the repetitions) ms of a one-row EAGLE head forward, when a head exists. */
  eagleStepMs?: number;
  /** `verifyMs[S]`: fastest (of the repetitions) ms of an S-token target forward (chain), keys as strings. */
  verifyMs: Record<string, number>;
}

/** Everything one `deno task bench:report` run measured. */
export interface BenchmarkResults {
  /** Format tag. */
  schema: "specdec-benchmark/1";
  /** ISO date of the run. */
  date: string;
  /** True for a `--quick` run (fewer prompts and tokens). */
  quick: boolean;
  /** Where it ran. */
  machine: {
    /** CPU model from /proc/cpuinfo. */
    cpuModel: string;
    /** Logical cores. */
    cores: number;
    /** ONNX Runtime version reported by the shim. */
    ortVersion: string;
    /** Deno version. */
    deno: string;
    /** OS and architecture. */
    os: string;
    /** 1-, 5-, 15-minute load averages when the run started (other work on the machine). */
    loadAverage: number[];
    /** The same when the run ended. */
    loadAverageEnd?: number[];
    /** ONNX Runtime intra-op threads used by our sessions. */
    threads: number;
    /** Whether idle ONNX Runtime threads spin (`session.intra_op.allow_spinning`). */
    spinning?: boolean;
  };
  /** Checkpoint folders (relative to the repository). */
  checkpoints: { target: string; draft: string; medusa?: string; eagle?: string };
  /** Run settings. */
  settings: {
    /** Tokens generated per prompt. */
    maxNewTokens: number;
    /** Generations per (configuration, prompt); the fastest one is recorded. */
    repeats?: number;
    /** Prompts used. */
    prompts: { id: string; kind: PromptKind; promptTokens: number }[];
    /**
     * The runtime settings tried before the runs (short greedy generations
     * each): one thread, all cores with and without spinning, and all cores
     * for the target with one thread for the draft (draft-target only).
     */
    threadProbe?: ThreadProbe[];
    /**
     * Runtime setting each method ran with: the probe's fastest for
     * autoregressive decoding (also used by prompt lookup, one session) and
     * for draft-target (also used by Medusa, two sessions alternating; its
     * `draftThreads` then applies to the Medusa heads).
     */
    methodRuntime?: Partial<Record<BenchMethod, RuntimeSetting>>;
    /**
     * K of the draft-target runs on prose prompts, with sampling and of the
     * transformers peer: the best of the greedy K sweep (results written
     * before the headline used the sweep's best: a fixed K = 5).
     */
    headlineK: number;
    /** Tree size of the Medusa runs on prose prompts and with sampling (the sweep's best). */
    headlineTree?: number;
  };
  /** Forward timings. */
  cost: CostModel;
  /** Every run. */
  runs: RunRecord[];
  /** Hugging Face transformers on the same checkpoints and prompts. */
  peers: PeerResults;
  /**
   * The weight-precision dimension: V(g) per precision at a fixed context;
   * the runs themselves are in `runs`, tagged with `weights` (absent: f32).
   */
  precision?: PrecisionResults;
  /** Optional sections (the real-scale section, ...), in report order. */
  sections?: SectionResult[];
}

/** Forward timings of the target at one weight precision. */
export interface PrecisionCost {
  /** Weight precision of the target. */
  weights: Precision;
  /** `verifyMs[g]`: fastest ms of a g-token target forward after the context, keys as strings. */
  verifyMs: Record<string, number>;
  /** Wall time of loading the target, draft and heads at this precision, ms. */
  loadMs?: number;
  /**
   * The attention operator of the timed target when it is not the precision's default (a
   * comparison row: q8/q4 default to TreeAttention, this times GroupQueryAttention).
   */
  attention?: "gqa" | "tree";
  /**
   * `gemm` for a comparison row whose projections ran ONNX Runtime's kernels (Gemm at f32,
   * MatMulNBits at q8/q4) instead of the default PackedLinear / PackedLinearQ.
   */
  linear?: "gemm";
}

/** What the precision phase measured besides its runs. */
export interface PrecisionResults {
  /** Precisions measured, in order (f32 first). */
  weights: Precision[];
  /** Tokens of context before each timed forward. */
  contextTokens: number;
  /** Forward timings per precision. */
  costs: PrecisionCost[];
}

/** An optional section's output: its markdown as written into REPORT.md and its figures. */
export interface SectionResult {
  /** Stable id (also the `--no-<id>` flag that skips it), e.g. `real-scale`. */
  id: string;
  /** The section's markdown, its `##` heading included. */
  markdown: string;
  /** Its measurements, as written into `benchmark_results.json`. */
  json: unknown;
}

/** Which runs to pool. */
export interface RunFilter {
  /** Method. */
  method: BenchMethod;
  /** K, for speculative, lookup and EAGLE chains. */
  k?: number;
  /** Tree size, for medusa and EAGLE trees. */
  tree?: number;
  /**
   * Weight precision; absent: `f32`. Like `schedule`, an absent precision
   * matches only the default (f32) runs, so no f32 figure pools q8 or q4 runs.
   */
  weights?: Precision;
  /**
   * Weight precision of the drafter; absent: the target's (`weights`). Matches like `weights`:
   * an absent one only the runs whose drafter ran at the target's precision.
   */
  drafterWeights?: Precision;
  /**
   * Lookup-branch tokens; absent: none. Matches like `drafterWeights`: an absent one only the
   * runs without a lookup branch, so no plain setting pools the lookup-branch runs.
   */
  lookup?: number;
  /**
   * Draft-target K schedule; absent: `constant`. Unlike `k` and `tree`, an
   * absent schedule or confidence does not match every run, only the default
   * one, so the K sweep never pools the dynamic-K or early-stop runs.
   */
  schedule?: BenchSchedule;
  /** Draft-target confidence threshold; absent: 0 (see `schedule`). */
  confidence?: number;
  /** Temperature. */
  temperature: number;
  /** Prompt kind; absent: all. */
  kind?: PromptKind;
}

/** Pooled figures of one configuration over its prompts. */
export interface ConfigSummary {
  /** The configuration. */
  filter: RunFilter;
  /** Runs pooled. */
  runs: number;
  /** Generated tokens. */
  newTokens: number;
  /** Total tokens / total seconds. */
  tokensPerSecond: number;
  /**
   * Throughput of the autoregressive runs this configuration is compared with: those of its
   * own phase on the same prompts (`paired_baseline.ts`); absent for autoregressive decoding and
   * when no autoregressive run fits.
   */
  baselineTokensPerSecond?: number;
  /**
   * `tokensPerSecond / baselineTokensPerSecond`: the speedup over autoregressive decoding
   * measured beside it; 1 for autoregressive decoding, absent without a baseline.
   */
  speedup?: number;
  /** Accepted / drafted over all runs; undefined when nothing was drafted. */
  acceptanceRate: number | undefined;
  /** Per-token acceptance α estimated from the per-position counts (geometric model). */
  alpha: number | undefined;
  /** Mean tokens per target step (τ), pooled. */
  tau: number;
  /** Per-position acceptance rates: accepted / checked at position i+1 (conditional on reaching it); NaN where never checked. */
  perPosition: number[];
}

/** The speedup model of one speculative configuration. */
export interface SpeedupModel {
  /** c: cost of drafting one token / one target step (0 for lookup; heads cost for Medusa and EAGLE). */
  c: number;
  /**
   * V: cost of the verification forward / one target step (at the runs' measured mean verified
   * tokens per step when those vary, as with a lookup branch).
   */
  v: number;
  /**
   * E: expected tokens per step: (1 - α^(K+1)) / (1 - α) for chains, measured τ for trees and
   * lookup-branch runs.
   */
  e: number;
  /** Draft forwards per target step the model charges c for: K, 1 (Medusa), measured (EAGLE). */
  draftSteps: number;
  /** Predicted speedup S = E / (K·c + V) (Medusa: E / (c + V); EAGLE: E / (h·c + V)). */
  predicted: number;
  /** Measured speedup over autoregressive at the same temperature and prompts. */
  measured: number;
  /** Measured / predicted. */
  efficiency: number;
}
