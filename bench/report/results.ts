/**
 * The benchmark report's data model: what `bench/report.ts` measures and
 * writes to `results/benchmark_results.json`, and the pure functions that
 * turn those raw runs into the report's figures (throughput, acceptance, τ,
 * c, V, E, predicted and measured speedup, efficiency, goals).
 *
 * Nothing here measures or touches files: the markdown and SVG writers and
 * the tests read only these records.
 *
 * @module
 */

/** Decoding methods measured by the benchmark. */
export type BenchMethod = "ar" | "speculative" | "medusa" | "lookup";

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
  /** Speculation length K (speculative, lookup). */
  k?: number;
  /** Medusa tree size in nodes. */
  tree?: number;
  /** Draft-target K schedule; absent: `constant` (results written before the field existed). */
  schedule?: BenchSchedule;
  /** Draft-target confidence threshold (early stop); absent: 0, disabled. */
  confidence?: number;
  /** `[min, max]` K of the heuristic schedule (the decoder's bounds); heuristic runs only. */
  kRange?: [number, number];
  /** Sampling temperature (0 = greedy). */
  temperature: number;
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
  /** Draft forwards (0 for ar, medusa, lookup). */
  draftForwards: number;
  /** Proposed tokens. */
  drafted: number;
  /** Accepted proposed tokens. */
  accepted: number;
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
  checkpoints: { target: string; draft: string; medusa?: string };
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
    /** K of the headline draft-target row. */
    headlineK: number;
    /** Tree size of the headline Medusa row. */
    headlineTree?: number;
  };
  /** Forward timings. */
  cost: CostModel;
  /** Every run. */
  runs: RunRecord[];
  /** Hugging Face transformers on the same checkpoints and prompts. */
  peers: PeerResults;
}

/** Which runs to pool. */
export interface RunFilter {
  /** Method. */
  method: BenchMethod;
  /** K, for speculative and lookup. */
  k?: number;
  /** Tree size, for medusa. */
  tree?: number;
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
  /** c: cost of drafting one token / one target step (0 for lookup; heads cost for Medusa). */
  c: number;
  /** V: cost of the verification forward / one target step. */
  v: number;
  /** E: expected tokens per step: (1 - α^(K+1)) / (1 - α) for chains, measured τ for trees. */
  e: number;
  /** Predicted speedup S = E / (K·c + V) (Medusa: E / (c + V)). */
  predicted: number;
  /** Measured speedup over autoregressive at the same temperature and prompts. */
  measured: number;
  /** Measured / predicted. */
  efficiency: number;
}

/**
 * True when a run used a non-default draft-target setting (the heuristic
 * schedule or a confidence threshold): not part of the constant-K sweep.
 */
export function isVariant(run: Pick<RunRecord, "schedule" | "confidence">): boolean {
  return (run.schedule ?? "constant") !== "constant" || (run.confidence ?? 0) !== 0;
}

/** True when `run` matches `filter` (absent schedule / confidence: only the defaults). */
export function matches(run: RunRecord, filter: RunFilter): boolean {
  return run.method === filter.method && run.temperature === filter.temperature &&
    (filter.kind === undefined || run.promptKind === filter.kind) &&
    (filter.k === undefined || run.k === filter.k) &&
    (filter.tree === undefined || run.tree === filter.tree) &&
    (run.schedule ?? "constant") === (filter.schedule ?? "constant") &&
    (run.confidence ?? 0) === (filter.confidence ?? 0);
}

/**
 * Pools the runs of one configuration.
 *
 * @param results The benchmark results.
 * @param filter Which runs.
 * @returns The pooled figures, or `undefined` when no run matches.
 *
 * @example Pooling two runs
 * ```ts
 * import { summarize, type BenchmarkResults } from "./report_model.ts";
 * const run = { method: "ar" as const, temperature: 0, promptId: "a", promptKind: "code" as const,
 *   newTokens: 10, wallTimeMs: 500, targetForwards: 11, draftForwards: 0, drafted: 0, accepted: 0,
 *   meanAcceptedLength: 1, acceptedAtPosition: [], checkedAtPosition: [], tokens: [] };
 * const results = { runs: [run, { ...run, promptId: "b" }] } as unknown as BenchmarkResults;
 * const s = summarize(results, { method: "ar", temperature: 0 });
 * if (s === undefined || s.tokensPerSecond !== 20) throw new Error("unexpected");
 * ```
 */
export function summarize(results: BenchmarkResults, filter: RunFilter): ConfigSummary | undefined {
  const runs = results.runs.filter((r) => matches(r, filter));
  if (runs.length === 0) return undefined;
  let tokens = 0, ms = 0, drafted = 0, accepted = 0, steps = 0;
  const acc: number[] = [];
  const prop: number[] = [];
  for (const r of runs) {
    tokens += r.newTokens;
    ms += r.wallTimeMs;
    drafted += r.drafted;
    accepted += r.accepted;
    steps += r.meanAcceptedLength > 0 ? r.newTokens / r.meanAcceptedLength : 0;
    r.acceptedAtPosition.forEach((a, i) => acc[i] = (acc[i] ?? 0) + a);
    r.checkedAtPosition.forEach((p, i) => prop[i] = (prop[i] ?? 0) + p);
  }
  const perPosition = prop.map((p, i) => (p > 0 ? (acc[i] ?? 0) / p : Number.NaN));
  return {
    filter,
    runs: runs.length,
    newTokens: tokens,
    tokensPerSecond: ms > 0 ? (1000 * tokens) / ms : 0,
    acceptanceRate: drafted > 0 ? accepted / drafted : undefined,
    alpha: estimateAlpha(acc, prop, drafted > 0 ? accepted / drafted : undefined),
    tau: steps > 0 ? tokens / steps : 1,
    perPosition,
  };
}

/**
 * Per-token acceptance α under the geometric model: the fraction of proposed
 * positions accepted, given that every earlier position was accepted (the
 * maximum-likelihood estimate from per-position counts).
 */
function estimateAlpha(
  acc: number[],
  prop: number[],
  fallback: number | undefined,
): number | undefined {
  const a = acc.reduce((s, x) => s + x, 0);
  const p = prop.reduce((s, x) => s + x, 0);
  return p > 0 ? a / p : fallback;
}

/** c = draft step / target step. */
export function costC(cost: CostModel): number {
  return cost.targetStepMs > 0 ? cost.draftStepMs / cost.targetStepMs : 0;
}

/**
 * V(S) = time of an S-token target forward / a 1-token forward, from the
 * nearest measured S at or above the one asked (a tree of S nodes costs at
 * least a chain of S tokens).
 */
export function costV(cost: CostModel, tokens: number): number | undefined {
  const base = cost.verifyMs["1"] ?? cost.targetStepMs;
  const sizes = Object.keys(cost.verifyMs).map(Number).filter((s) => s >= tokens).sort((a, b) =>
    a - b
  );
  const s = sizes[0];
  if (s === undefined || !(base > 0)) return undefined;
  return (cost.verifyMs[String(s)] ?? 0) / base;
}

/** E = (1 - α^(K+1)) / (1 - α): expected tokens per step with K drafts of acceptance α. */
export function expectedTokens(alpha: number, k: number): number {
  if (alpha >= 1) return k + 1;
  return (1 - alpha ** (k + 1)) / (1 - alpha);
}

/**
 * The speedup model of a speculative configuration next to its measurement.
 *
 * @param results The benchmark results (cost model, runs).
 * @param filter A speculative, lookup or medusa configuration.
 * @returns c, V, E, predicted and measured speedup and efficiency, or
 *   `undefined` without runs of this configuration or of autoregressive.
 */
export function speedupModel(
  results: BenchmarkResults,
  filter: RunFilter,
): SpeedupModel | undefined {
  const s = summarize(results, filter);
  const arFilter: RunFilter = { method: "ar", temperature: filter.temperature };
  if (filter.kind !== undefined) arFilter.kind = filter.kind;
  const ar = summarize(results, arFilter);
  if (s === undefined || ar === undefined || ar.tokensPerSecond <= 0) return undefined;
  const measured = s.tokensPerSecond / ar.tokensPerSecond;
  let c: number, v: number | undefined, e: number, predicted: number;
  if (filter.method === "medusa") {
    const nodes = filter.tree ?? 1;
    c = results.cost.headsStepMs !== undefined && results.cost.targetStepMs > 0
      ? results.cost.headsStepMs / results.cost.targetStepMs
      : 0;
    v = costV(results.cost, nodes);
    e = s.tau;
    if (v === undefined) return undefined;
    predicted = e / (c + v);
  } else {
    const k = filter.k ?? 1;
    c = filter.method === "speculative" ? costC(results.cost) : 0;
    v = costV(results.cost, k + 1);
    if (v === undefined) return undefined;
    e = expectedTokens(s.alpha ?? 0, k);
    predicted = e / (k * c + v);
  }
  return { c, v, e, predicted, measured, efficiency: predicted > 0 ? measured / predicted : 0 };
}

/**
 * Distinct values of a numeric field among runs of a method, ascending: the
 * sweep's points, so runs with a non-default schedule or confidence threshold
 * ({@linkcode isVariant}) are left out.
 */
export function distinct(
  results: BenchmarkResults,
  method: BenchMethod,
  field: "k" | "tree",
  temperature = 0,
): number[] {
  const set = new Set<number>();
  for (const r of results.runs) {
    const v = r[field];
    if (r.method === method && r.temperature === temperature && v !== undefined && !isVariant(r)) {
      set.add(v);
    }
  }
  return [...set].sort((a, b) => a - b);
}

/** Pooled peer throughput of one method (and K), optionally for one prompt kind. */
export function peerThroughput(
  peers: PeerResults,
  method: PeerRun["method"],
  kind?: PromptKind,
): number | undefined {
  const runs = peers.runs.filter((r) =>
    r.method === method && (kind === undefined || r.promptKind === kind)
  );
  const ms = runs.reduce((s, r) => s + r.wallTimeMs, 0);
  const tokens = runs.reduce((s, r) => s + r.newTokens, 0);
  return runs.length > 0 && ms > 0 ? (1000 * tokens) / ms : undefined;
}

/** Result of comparing greedy token ids of two engines prompt by prompt. */
export interface GreedyComparison {
  /** Prompts compared. */
  compared: number;
  /** Prompts with identical ids. */
  identical: number;
  /** Prompt ids that differ, with the first differing index. */
  differences: { promptId: string; at: number }[];
}

/**
 * Compares greedy token ids of our runs with a peer method's, prompt by prompt.
 * Sequences of different length compare on their common prefix when one
 * stopped early at the token budget; a length difference otherwise counts.
 */
export function compareGreedy(
  ours: RunRecord[],
  theirs: Pick<PeerRun, "promptId" | "tokens">[],
): GreedyComparison {
  const out: GreedyComparison = { compared: 0, identical: 0, differences: [] };
  for (const p of theirs) {
    const o = ours.find((r) => r.promptId === p.promptId);
    if (o === undefined) continue;
    out.compared++;
    const n = Math.min(o.tokens.length, p.tokens.length);
    let at = -1;
    for (let i = 0; i < n; i++) {
      if (o.tokens[i] !== p.tokens[i]) {
        at = i;
        break;
      }
    }
    if (at < 0 && o.tokens.length !== p.tokens.length) at = n;
    if (at < 0) out.identical++;
    else out.differences.push({ promptId: p.promptId, at });
  }
  return out;
}

/** One draft-target setting: K (the starting K under the heuristic schedule), schedule, threshold. */
export interface DraftSetting {
  /** K, or the starting K of the heuristic schedule. */
  k: number;
  /** K schedule. */
  schedule: BenchSchedule;
  /** Confidence threshold of the early stop (0: disabled). */
  confidence: number;
  /** `[min, max]` K of the heuristic schedule, as the decoder reported them. */
  kRange?: [number, number];
}

/**
 * Short label of a draft-target setting: `K=3`, `K=3 heuristic 1..6`,
 * `K=3 confidence 0.5`, `K=5 heuristic 1..10 confidence 0.5`.
 *
 * @param s The setting (absent schedule: constant; absent confidence: 0).
 * @returns The label.
 *
 * @example Labels
 * ```ts
 * import { settingLabel } from "./report_model.ts";
 * if (settingLabel({ k: 3 }) !== "K=3") throw new Error("constant");
 * if (settingLabel({ k: 5, schedule: "heuristic", confidence: 0.5 }) !== "K=5 heuristic confidence 0.5") {
 *   throw new Error("variant");
 * }
 * ```
 */
export function settingLabel(
  s: { k?: number; schedule?: BenchSchedule; confidence?: number; kRange?: [number, number] },
): string {
  const parts = [`K=${s.k ?? "?"}`];
  if (s.schedule === "heuristic") {
    parts.push(s.kRange === undefined ? "heuristic" : `heuristic ${s.kRange[0]}..${s.kRange[1]}`);
  }
  if ((s.confidence ?? 0) > 0) parts.push(`confidence ${s.confidence}`);
  return parts.join(" ");
}

/** The run filter of a draft-target setting on the greedy code prompts. */
export function settingFilter(s: DraftSetting): RunFilter {
  return {
    method: "speculative",
    k: s.k,
    temperature: 0,
    kind: "code",
    schedule: s.schedule,
    confidence: s.confidence,
  };
}

/**
 * The draft-target settings with the heuristic schedule or a confidence
 * threshold among the greedy code runs, constant schedules first, then by K
 * and threshold.
 */
export function variantSettings(results: BenchmarkResults): DraftSetting[] {
  const seen = new Map<string, DraftSetting>();
  for (const r of results.runs) {
    if (r.method !== "speculative" || r.temperature !== 0 || r.promptKind !== "code") continue;
    if (!isVariant(r) || r.k === undefined) continue;
    const s: DraftSetting = {
      k: r.k,
      schedule: r.schedule ?? "constant",
      confidence: r.confidence ?? 0,
    };
    if (r.kRange !== undefined) s.kRange = r.kRange;
    const key = `${s.schedule} ${s.k} ${s.confidence}`;
    if (!seen.has(key)) seen.set(key, s);
  }
  return [...seen.values()].sort((a, b) =>
    (a.schedule === b.schedule ? 0 : a.schedule === "constant" ? -1 : 1) || a.k - b.k ||
    a.confidence - b.confidence
  );
}

/** Figures of one draft-target setting on the greedy code prompts. */
export interface SettingSummary {
  /** The setting. */
  setting: DraftSetting;
  /** Total tokens / total seconds. */
  tokensPerSecond: number;
  /** Tokens/s over autoregressive's on the same prompts; undefined without autoregressive runs. */
  speedup: number | undefined;
  /** Mean tokens per target step (τ). */
  tau: number;
  /** Accepted / drafted; undefined when nothing was drafted. */
  acceptanceRate: number | undefined;
  /** Draft forwards per generated token. */
  draftForwardsPerToken: number;
  /** Greedy token ids against autoregressive's, prompt by prompt. */
  greedy: GreedyComparison;
}

/**
 * Pools the greedy code runs of one draft-target setting and compares their
 * tokens with autoregressive's.
 *
 * @param results The benchmark results.
 * @param setting K, schedule and threshold.
 * @returns The figures, or `undefined` when the setting did not run.
 */
export function summarizeSetting(
  results: BenchmarkResults,
  setting: DraftSetting,
): SettingSummary | undefined {
  const filter = settingFilter(setting);
  const s = summarize(results, filter);
  if (s === undefined) return undefined;
  const runs = results.runs.filter((r) => matches(r, filter));
  const arFilter: RunFilter = { method: "ar", temperature: 0, kind: "code" };
  const ar = summarize(results, arFilter);
  const arRuns = results.runs.filter((r) => matches(r, arFilter));
  const tokens = runs.reduce((n, r) => n + r.newTokens, 0);
  const drafted = runs.reduce((n, r) => n + r.draftForwards, 0);
  return {
    setting,
    tokensPerSecond: s.tokensPerSecond,
    speedup: ar !== undefined && ar.tokensPerSecond > 0
      ? s.tokensPerSecond / ar.tokensPerSecond
      : undefined,
    tau: s.tau,
    acceptanceRate: s.acceptanceRate,
    draftForwardsPerToken: tokens > 0 ? drafted / tokens : 0,
    greedy: compareGreedy(runs, arRuns),
  };
}

/** True when every prompt compared with autoregressive had identical greedy tokens. */
export function isLossless(s: SettingSummary): boolean {
  return s.greedy.compared > 0 && s.greedy.identical === s.greedy.compared;
}
