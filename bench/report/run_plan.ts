/**
 * The benchmark's run plan: the greedy sweeps on the code prompts
 * ({@linkcode sweepConfigs}); the quantized-drafter runs
 * ({@linkcode drafterConfigs}) and the lookup-branch runs
 * ({@linkcode lookupBranchConfigs}) at each drafting method's best setting so
 * far; the follow-up runs at each method's overall best setting, on prose
 * prompts and with sampling ({@linkcode followUpConfigs}); and the runs of the
 * weight-precision section ({@linkcode precisionConfigs}, then
 * {@linkcode precisionLookupConfigs} at each method's best at that precision).
 *
 * @module
 */

import type { BenchConfig } from "./bench_config.ts";
import type { BenchMethod, PromptKind } from "./results.ts";

/**
 * A phase's configurations with autoregressive decoding added first for every temperature and
 * prompt kind they run that no autoregressive configuration covers yet. The runs interleave
 * prompt by prompt, so each speedup is taken against autoregressive decoding measured beside it
 * (`paired_baseline.ts`), not minutes earlier: the machine's speed drifts.
 *
 * @param configs The phase's configurations.
 * @returns The configurations with their baselines.
 *
 * @example A lookup-branch phase gains its baseline
 * ```ts
 * import { withBaselines } from "./run_plan.ts";
 * const [ar] = withBaselines([{ method: "eagle", k: 4, lookup: 16, temperature: 0, kinds: ["code"] }]);
 * if (ar?.method !== "ar" || ar.kinds[0] !== "code") throw new Error("unexpected");
 * ```
 */
export function withBaselines(configs: BenchConfig[]): BenchConfig[] {
  const covered = new Set<string>();
  for (const c of configs) {
    if (c.method === "ar") { for (const kind of c.kinds) covered.add(`${c.temperature}/${kind}`); }
  }
  const added: BenchConfig[] = [];
  for (const c of configs) {
    for (const kind of c.kinds) {
      const key = `${c.temperature}/${kind}`;
      if (covered.has(key)) continue;
      covered.add(key);
      added.push({ method: "ar", temperature: c.temperature, kinds: [kind] });
    }
  }
  return [...added, ...configs];
}

/** Which optional models the target has. */
export interface PlanModels {
  /** Medusa heads loaded. */
  heads: boolean;
  /** EAGLE head loaded. */
  eagle: boolean;
}

/**
 * Each speculative method's chosen setting (its K / tree; its drafter's precision and lookup
 * branch when the chosen runs had them), absent when it did not run.
 */
export type PlanSettings = Partial<
  Record<BenchMethod, Pick<BenchConfig, "k" | "tree" | "drafterWeights" | "lookup">>
>;

/** The drafting methods: those with a drafter, a quantized drafter and a lookup branch. */
const DRAFTING = ["speculative", "medusa", "eagle"] as const;

const CODE: PromptKind[] = ["code"];

/**
 * The dynamic-K and draft-confidence points of draft-target (greedy, code
 * prompts), measured beside the constant-K sweep: the heuristic schedule from
 * K = 3 and 5 (the decoder's default bounds), constant K = 3 with early-stop
 * thresholds, and both together; `--quick` keeps one of each feature.
 */
function draftSettings(quick: boolean): BenchConfig[] {
  const base = (k: number): BenchConfig => ({
    method: "speculative",
    k,
    temperature: 0,
    kinds: CODE,
  });
  const heuristic = (k: number): BenchConfig => ({ ...base(k), schedule: "heuristic" });
  const confident = (k: number, confidence: number): BenchConfig => ({ ...base(k), confidence });
  if (quick) return [heuristic(3), confident(3, 0.5)];
  return [
    heuristic(3),
    heuristic(5),
    confident(3, 0.3),
    confident(3, 0.5),
    confident(3, 0.7),
    { ...heuristic(5), confidence: 0.5 },
  ];
}

/**
 * Phase 1, f32: autoregressive and every method's sweep, greedy, on the code
 * prompts (the K sweep of draft-target and prompt lookup, Medusa tree sizes,
 * EAGLE chains and trees, the dynamic-K points).
 *
 * @param quick Fewer sweep points.
 * @param models Which heads exist.
 * @returns The configurations.
 */
export function sweepConfigs(quick: boolean, models: PlanModels): BenchConfig[] {
  const list: BenchConfig[] = [{ method: "ar", temperature: 0, kinds: CODE }];
  for (const k of quick ? [1, 3, 5, 8] : [1, 2, 3, 4, 5, 6, 7, 8]) {
    list.push({ method: "speculative", k, temperature: 0, kinds: CODE });
  }
  for (const k of quick ? [2, 5] : [2, 3, 5, 8]) {
    list.push({ method: "lookup", k, temperature: 0, kinds: CODE });
  }
  if (models.heads) {
    for (const tree of quick ? [4, 8, 16] : [4, 8, 16, 64]) {
      list.push({ method: "medusa", tree, temperature: 0, kinds: CODE });
    }
  }
  if (models.eagle) {
    for (const k of quick ? [4] : [2, 3, 4, 5]) {
      list.push({ method: "eagle", k, temperature: 0, kinds: CODE });
    }
    for (const tree of quick ? [8] : [4, 8, 16]) {
      list.push({ method: "eagle", tree, temperature: 0, kinds: CODE });
    }
  }
  list.push(...draftSettings(quick));
  return list;
}

/**
 * The follow-up runs, f32: every method at its best setting on the prose prompts
 * (greedy), and with sampling (temperature 1) on the code prompts autoregressive and every
 * method at its best greedy setting, plus, where that setting has a lookup branch, the same
 * without it (copied tokens are verified as point masses, which a sampled token matches less
 * often), and Medusa's 4-node tree alone: the sampling defaults are chosen from these.
 *
 * @param best Each method's overall best setting (sweep, drafter and lookup-branch runs).
 * @returns The configurations.
 */
export function followUpConfigs(best: PlanSettings): BenchConfig[] {
  const prose: PromptKind[] = ["prose"];
  const list: BenchConfig[] = [{ method: "ar", temperature: 0, kinds: prose }];
  const at = (method: BenchMethod, temperature: number, kinds: PromptKind[]): void => {
    const s = best[method];
    if (s !== undefined) list.push({ method, ...s, temperature, kinds });
  };
  for (const m of ["speculative", "medusa", "lookup", "eagle"] as const) at(m, 0, prose);
  list.push({ method: "ar", temperature: 1, kinds: CODE });
  for (const m of ["speculative", "medusa", "lookup", "eagle"] as const) {
    at(m, 1, CODE);
    const s = best[m];
    if (s?.lookup !== undefined && s.lookup > 0) {
      const { lookup: _, ...alone } = s;
      list.push({ method: m, ...alone, temperature: 1, kinds: CODE });
    }
    if (m === "medusa" && s !== undefined && s.tree !== 4) {
      const drafter = s.drafterWeights !== undefined ? { drafterWeights: s.drafterWeights } : {};
      list.push({ method: m, tree: 4, ...drafter, temperature: 1, kinds: CODE });
    }
  }
  return list;
}

/** A setting's shape only: K and tree, without drafter precision or lookup branch. */
function shapeOf(s: Pick<BenchConfig, "k" | "tree">): Pick<BenchConfig, "k" | "tree"> {
  return {
    ...(s.k !== undefined ? { k: s.k } : {}),
    ...(s.tree !== undefined ? { tree: s.tree } : {}),
  };
}

/**
 * The drafter-precision runs: each drafting method (draft-target, Medusa, EAGLE) at its best
 * f32 setting with the drafter quantized (q8, and q4 unless quick) while the target stays f32.
 * A cheaper drafter changes only what is proposed, never the output.
 *
 * @param best Each method's best f32 setting (its K / tree is taken).
 * @param quick Fewer runs.
 * @returns The configurations.
 */
export function drafterConfigs(best: PlanSettings, quick: boolean): BenchConfig[] {
  const list: BenchConfig[] = [];
  for (const method of DRAFTING) {
    const s = best[method];
    if (s === undefined) continue;
    for (const drafterWeights of quick ? ["q8"] as const : ["q8", "q4"] as const) {
      list.push({ method, ...shapeOf(s), drafterWeights, temperature: 0, kinds: CODE });
    }
  }
  return list;
}

/** Lookup-branch tokens of the f32 lookup-branch runs (`--quick`: the first only). */
export const LOOKUP_BRANCH_TOKENS: readonly number[] = [8, 16, 32];

/**
 * The lookup-branch runs, f32 target: each drafting method (draft-target, Medusa, EAGLE) at its
 * best setting so far, drafter precision included, with a prompt-lookup branch of 8, 16 and 32
 * tokens (`--quick`: 8), greedy, code prompts. The branch changes only what is proposed.
 *
 * @param best Each method's best setting over the sweep and the drafter runs.
 * @param quick Fewer runs.
 * @returns The configurations.
 *
 * @example Draft-target's best with a q8 draft
 * ```ts
 * import { lookupBranchConfigs } from "./run_plan.ts";
 * const [c] = lookupBranchConfigs({ speculative: { k: 6, drafterWeights: "q8" } }, true);
 * if (c?.lookup !== 8 || c.drafterWeights !== "q8" || c.k !== 6) throw new Error("unexpected");
 * ```
 */
export function lookupBranchConfigs(best: PlanSettings, quick: boolean): BenchConfig[] {
  const list: BenchConfig[] = [];
  for (const method of DRAFTING) {
    const s = best[method];
    if (s === undefined) continue;
    const drafter = s.drafterWeights !== undefined ? { drafterWeights: s.drafterWeights } : {};
    for (const lookup of quick ? LOOKUP_BRANCH_TOKENS.slice(0, 1) : LOOKUP_BRANCH_TOKENS) {
      list.push({ method, ...shapeOf(s), ...drafter, lookup, temperature: 0, kinds: CODE });
    }
    // A branch adds verified rows, so a shorter chain may now win: chains also run shorter
    // with the longest branch (draft-target K - 1 to K - 3, EAGLE K - 1: its head forwards are
    // dearer than the draft's). Draft-target verifies a copy that leaves its chain only in the
    // rows the chain left unused, which favours short chains with a long branch (interleaved
    // probe, K=7 best alone: K=5 + lookup 32 2.53x, K=4 2.47x, K=7 2.44x).
    const chain = method === "speculative" || (method === "eagle" && s.tree === undefined);
    const shorter = s.k === undefined
      ? []
      : method === "speculative"
      ? [s.k - 1, s.k - 2, s.k - 3]
      : [s.k - 1];
    const longest = LOOKUP_BRANCH_TOKENS[LOOKUP_BRANCH_TOKENS.length - 1]!;
    for (const k of quick || !chain ? [] : shorter.filter((k) => k >= 2)) {
      list.push({ method, k, ...drafter, lookup: longest, temperature: 0, kinds: CODE });
    }
    // The same for Medusa's trees: the smallest shipped tree with 16 when the best is larger
    // (the 16:03 run's sweep picked 8 nodes over 4 within noise, and only 8 got the branch).
    if (!quick && method === "medusa" && s.tree !== undefined && s.tree > 4) {
      list.push({ method, tree: 4, ...drafter, lookup: 16, temperature: 0, kinds: CODE });
    }
  }
  return list;
}

/**
 * Phase 3, at one quantized precision: autoregressive and every method,
 * greedy, on the code prompts: draft-target at the f32 best K and its
 * neighbours (K - 1, K + 1), Medusa at the f32 best tree and 4 nodes, prompt
 * lookup at K = 2, 3, 5 and its f32 best, EAGLE at its f32 best and the 4-node tree;
 * `--quick` keeps the f32 best only. The drafters run at the target's precision and without a
 * lookup branch ({@linkcode precisionLookupConfigs} adds that after these runs).
 *
 * @param best Each method's best f32 setting (its K / tree is taken).
 * @param quick Fewer points.
 * @returns The configurations.
 */
export function precisionConfigs(best: PlanSettings, quick: boolean): BenchConfig[] {
  const list: BenchConfig[] = [{ method: "ar", temperature: 0, kinds: CODE }];
  const dt = best.speculative?.k;
  if (dt !== undefined) {
    const ks = quick ? [dt] : [dt - 1, dt, dt + 1].filter((k) => k >= 1 && k <= 8);
    for (const k of ks) list.push({ method: "speculative", k, temperature: 0, kinds: CODE });
  }
  const tree = best.medusa?.tree;
  if (tree !== undefined) {
    for (const t of quick ? [tree] : [...new Set([4, tree])].sort((a, b) => a - b)) {
      list.push({ method: "medusa", tree: t, temperature: 0, kinds: CODE });
    }
  }
  // Quantized weights make extra verified tokens relatively dearer (V(g) grows faster), so
  // prompt lookup, whose steps cost no draft, is swept again at every precision.
  const lk = best.lookup?.k;
  if (lk !== undefined) {
    for (const k of quick ? [lk] : [...new Set([2, 3, 5, lk])].sort((a, b) => a - b)) {
      list.push({ method: "lookup", k, temperature: 0, kinds: CODE });
    }
  }
  const eagle = best.eagle !== undefined ? shapeOf(best.eagle) : undefined;
  if (eagle !== undefined) {
    list.push({ method: "eagle", ...eagle, temperature: 0, kinds: CODE });
    if (!quick && eagle.tree !== 4) {
      list.push({ method: "eagle", tree: 4, temperature: 0, kinds: CODE });
    }
  }
  return list;
}

/**
 * Phase 3's lookup-branch runs at one quantized precision: each drafting method (draft-target,
 * Medusa, EAGLE) at its best setting at that precision (from {@linkcode precisionConfigs}'s
 * runs) with a lookup branch of 8 tokens, greedy, code prompts.
 *
 * @param best Each method's best setting at that precision.
 * @returns The configurations.
 */
export function precisionLookupConfigs(best: PlanSettings): BenchConfig[] {
  const list: BenchConfig[] = [];
  for (const method of DRAFTING) {
    const s = best[method];
    if (s === undefined) continue;
    list.push({
      method,
      ...shapeOf(s),
      lookup: LOOKUP_BRANCH_TOKENS[0]!,
      temperature: 0,
      kinds: CODE,
    });
  }
  return list;
}
