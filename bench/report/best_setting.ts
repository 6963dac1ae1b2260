/**
 * `bestSetting`: a method's fastest measured setting (K, tree size, EAGLE
 * chain or tree, with its drafter precision and lookup branch) among one
 * run's sweep points, which the headline, the precision rows, the recommended
 * defaults and the goals all use.
 *
 * @module
 */

import type { Precision } from "./results.ts";
import type { BenchmarkResults, BenchMethod, PromptKind, RunFilter } from "./results.ts";
import { isVariant, summarize } from "./summarize.ts";

/** Which runs a setting is looked for among. */
export interface SettingScope {
  /** Temperature (default 0, greedy). */
  temperature?: number;
  /** Weight precision (default f32). */
  weights?: Precision;
  /** Prompt kind (default code: every sweep runs on the code prompts). */
  kind?: PromptKind;
  /**
   * `false`: only the runs without a prompt-lookup branch (what the drafter alone reaches);
   * default `true`, the lookup-branch runs too.
   */
  lookupBranch?: boolean;
}

/** A method's fastest setting in a scope. */
export interface BestSetting {
  /**
   * The runs of that setting (method, K / tree, temperature, kind, weights; its drafter's
   * precision and its lookup-branch tokens when it has them).
   */
  filter: RunFilter;
  /** Its short name: `K=3`, `8-node tree`, `chain K=4`, `K=6 + lookup 8, q8 draft`. */
  name: string;
  /** Pooled tokens/s. */
  tokensPerSecond: number;
  /**
   * Tokens/s over the autoregressive runs measured beside it (its phase, same prompts);
   * undefined without autoregressive runs.
   */
  speedup: number | undefined;
}

/**
 * Short name of a setting: `K=3` (draft-target, prompt lookup), `8-node tree`
 * (Medusa), `chain K=4` or `8-node tree` (EAGLE); empty for autoregressive;
 * then its lookup branch and its drafter's precision: `chain K=3 + lookup 8, q8 head`.
 *
 * @param filter The setting.
 * @returns The name.
 */
export function settingName(
  filter: Pick<RunFilter, "method" | "k" | "tree" | "weights" | "drafterWeights" | "lookup">,
): string {
  const base = ((): string => {
    switch (filter.method) {
      case "ar":
        return "";
      case "medusa":
        return `${filter.tree ?? "?"}-node tree`;
      case "eagle":
        return (filter.tree ?? 0) > 0 ? `${filter.tree}-node tree` : `chain K=${filter.k ?? "?"}`;
      default:
        return `K=${filter.k ?? "?"}`;
    }
  })();
  return base + lookupSuffix(filter) + drafterSuffix(filter);
}

/**
 * ` + lookup 8` when the setting has a prompt-lookup branch (8 copied tokens at most per step);
 * empty otherwise.
 *
 * @param filter The setting.
 * @returns The suffix.
 */
export function lookupSuffix(filter: Pick<RunFilter, "lookup">): string {
  return (filter.lookup ?? 0) > 0 ? ` + lookup ${filter.lookup}` : "";
}

/**
 * `, q8 draft`, `, q8 heads` or `, q8 head` when the drafter ran at another precision than
 * the target; empty otherwise.
 *
 * @param filter The setting.
 * @returns The suffix.
 */
export function drafterSuffix(
  filter: Pick<RunFilter, "method" | "weights" | "drafterWeights">,
): string {
  const d = filter.drafterWeights;
  if (d === undefined || d === (filter.weights ?? "f32")) return "";
  const what = filter.method === "speculative"
    ? "draft"
    : filter.method === "medusa"
    ? "heads"
    : "head";
  return `, ${d} ${what}`;
}

/**
 * The distinct constant settings a method ran with in a scope (the sweep's
 * points, the quantized-drafter and the lookup-branch runs; dynamic-K and
 * early-stop runs are left out): chains by K, then trees by size, each
 * followed by its drafter precisions and lookup branches.
 *
 * @param results The benchmark results.
 * @param method The method.
 * @param scope Temperature, precision, prompt kind; whether lookup-branch runs count.
 * @returns One run filter per setting.
 */
export function sweepSettings(
  results: Pick<BenchmarkResults, "runs">,
  method: BenchMethod,
  scope: SettingScope = {},
): RunFilter[] {
  const base = scopeFilter(method, scope);
  if (method === "ar") return results.runs.some((r) => sameScope(r, base)) ? [base] : [];
  const seen = new Map<string, RunFilter>();
  for (const r of results.runs) {
    if (!sameScope(r, base) || isVariant(r)) continue;
    if (scope.lookupBranch === false && (r.lookup ?? 0) > 0) continue;
    const f: RunFilter = { ...base };
    if (r.k !== undefined) f.k = r.k;
    if (r.tree !== undefined && !(method === "eagle" && r.tree === 0)) f.tree = r.tree;
    if (r.drafterWeights !== undefined && r.drafterWeights !== (r.weights ?? "f32")) {
      f.drafterWeights = r.drafterWeights;
    }
    if (r.lookup !== undefined && r.lookup > 0) f.lookup = r.lookup;
    seen.set(`${f.k ?? ""}/${f.tree ?? ""}/${f.drafterWeights ?? ""}/${f.lookup ?? ""}`, f);
  }
  return [...seen.values()].sort((a, b) =>
    (a.tree ?? 0) - (b.tree ?? 0) || (a.k ?? 0) - (b.k ?? 0) ||
    (a.drafterWeights ?? "").localeCompare(b.drafterWeights ?? "") ||
    (a.lookup ?? 0) - (b.lookup ?? 0)
  );
}

/**
 * The fastest setting (highest pooled tokens/s; the first of equals) a method
 * ran with in a scope.
 *
 * @param results The benchmark results.
 * @param method The method.
 * @param scope Temperature, precision and prompt kind (default greedy, f32, code); whether
 *   lookup-branch runs count (default yes).
 * @returns The setting (its `filter.lookup` set when the fastest runs had a lookup branch), or
 *   `undefined` when the method did not run there.
 *
 * @example The best K of a sweep
 * ```ts
 * import { bestSetting } from "./best_setting.ts";
 * import type { BenchmarkResults, RunRecord } from "./results.ts";
 * const run = (k: number, wallTimeMs: number): RunRecord => ({
 *   method: "speculative", k, temperature: 0, promptId: "a", promptKind: "code",
 *   newTokens: 100, wallTimeMs, targetForwards: 0, draftForwards: 0, drafted: 0, accepted: 0,
 *   meanAcceptedLength: 1, acceptedAtPosition: [], checkedAtPosition: [], tokens: [] });
 * const results = { runs: [run(3, 400), run(5, 500)] } as unknown as BenchmarkResults;
 * if (bestSetting(results, "speculative")?.name !== "K=3") throw new Error("unexpected");
 * ```
 */
export function bestSetting(
  results: Pick<BenchmarkResults, "runs">,
  method: BenchMethod,
  scope: SettingScope = {},
): BestSetting | undefined {
  let top: BestSetting | undefined;
  // Ranked by the speedup over the autoregressive runs measured beside each setting (its own
  // phase, paired_baseline.ts), so settings run minutes apart compare without the machine's
  // drift; by throughput where no baseline ran.
  for (const filter of sweepSettings(results, method, scope)) {
    const s = summarize(results, filter);
    if (s === undefined || (top !== undefined && !faster(s, top))) continue;
    top = {
      filter,
      name: settingName(filter),
      tokensPerSecond: s.tokensPerSecond,
      speedup: s.speedup,
    };
  }
  return top;
}

/** True when `a` beat `b`: by speedup when both have one, else by throughput. */
export function faster(
  a: { speedup?: number | undefined; tokensPerSecond: number },
  b: { speedup?: number | undefined; tokensPerSecond: number },
): boolean {
  return a.speedup !== undefined && b.speedup !== undefined
    ? a.speedup > b.speedup
    : a.tokensPerSecond > b.tokensPerSecond;
}

function scopeFilter(method: BenchMethod, scope: SettingScope): RunFilter {
  const f: RunFilter = { method, temperature: scope.temperature ?? 0, kind: scope.kind ?? "code" };
  if (scope.weights !== undefined && scope.weights !== "f32") f.weights = scope.weights;
  return f;
}

function sameScope(r: BenchmarkResults["runs"][number], f: RunFilter): boolean {
  return r.method === f.method && r.temperature === f.temperature && r.promptKind === f.kind &&
    (r.weights ?? "f32") === (f.weights ?? "f32");
}
