/**
 * `loadBenchModels`: the target, draft, heads and tokenizer of one weight
 * precision, loaded twice when the thread probe picked different settings for
 * one-session and two-session methods.
 *
 * @module
 */

import { loadModelParts, type StageRunner } from "../../cli.ts";
import type { BenchConfig, BenchModels } from "./bench_config.ts";
import type { Precision, RuntimeSetting } from "./results.ts";

/** Checkpoints and settings to load. */
export interface BenchModelRequest {
  /** Target checkpoint folder. */
  target: string;
  /** Draft checkpoint folder. */
  draft: string;
  /** Medusa heads folder, when they exist. */
  medusa?: string;
  /** EAGLE head folder, when it exists. */
  eagle?: string;
  /** Weight precision of the target, and of the drafters unless a run names `drafters`. */
  weights: Precision;
  /** Setting of autoregressive decoding and prompt lookup (one session). */
  single: RuntimeSetting;
  /** Setting of draft-target, Medusa and EAGLE (two sessions alternating). */
  dual: RuntimeSetting;
  /**
   * Other precisions to load the drafters (draft, Medusa heads, EAGLE head) at, for runs whose
   * `drafterWeights` names one (the target stays at `weights`).
   */
  drafters?: Precision[];
}

/** Loaded models and which of them each configuration runs on. */
export interface LoadedBenchModels {
  /** The models of the two-session methods (target, draft, heads, tokenizer). */
  models: BenchModels;
  /** The models a configuration runs on. */
  modelsFor: (config: BenchConfig) => BenchModels;
  /** Closes every session. */
  close(): void;
}

/**
 * Loads the models of one precision.
 *
 * @param request Checkpoints, precision and runtime settings.
 * @param stage Progress wrapper of each load.
 * @returns The models; close them when done.
 */
export async function loadBenchModels(
  request: BenchModelRequest,
  stage: StageRunner,
): Promise<LoadedBenchModels> {
  const w = request.weights === "f32" ? {} : { weights: request.weights };
  // The drafters at the target's precision unless a run asks otherwise (explicitly: the CLI's
  // own default would be the measured one, which this report measures).
  const withDrafters = (drafterWeights: Precision) =>
    loadModelParts({
      model: request.target,
      draft: request.draft,
      ...(request.medusa !== undefined ? { medusa: request.medusa } : {}),
      ...(request.eagle !== undefined ? { eagle: request.eagle } : {}),
      ...request.dual,
      ...w,
      draftWeights: drafterWeights,
    }, stage);
  const parts = await withDrafters(request.weights);
  const extra = new Map<Precision, Awaited<ReturnType<typeof loadModelParts>>>();
  try {
    for (const d of request.drafters ?? []) {
      if (d !== request.weights && !extra.has(d)) extra.set(d, await withDrafters(d));
    }
  } catch (err) {
    for (const p of extra.values()) p.close?.();
    parts.close?.();
    throw err;
  }
  // Same target settings: the dual setting's draftThreads only changes the draft and the heads.
  const same = request.single.threads === request.dual.threads &&
    request.single.spinning === request.dual.spinning;
  const singleParts = same
    ? undefined
    : await loadModelParts({ model: request.target, ...request.single, ...w }, stage).catch(
      (err) => {
        for (const p of extra.values()) p.close?.();
        parts.close?.();
        throw err;
      },
    );
  const models: BenchModels = {
    target: parts.target,
    draft: parts.draft!,
    tokenizer: parts.tokenizer,
    ...(parts.heads !== undefined ? { heads: parts.heads } : {}),
    ...(parts.eagle !== undefined ? { eagle: parts.eagle } : {}),
  };
  const single = singleParts === undefined ? models : { ...models, target: singleParts.target };
  // A run with another drafter precision: the same target, that precision's drafters.
  const drafted = new Map<Precision, BenchModels>();
  for (const [d, p] of extra) {
    drafted.set(d, {
      ...models,
      draft: p.draft!,
      ...(p.heads !== undefined ? { heads: p.heads } : {}),
      ...(p.eagle !== undefined ? { eagle: p.eagle } : {}),
    });
  }
  return {
    models,
    modelsFor: (c) => {
      if (c.method === "ar" || c.method === "lookup") return single;
      const d = c.drafterWeights;
      if (d === undefined || d === request.weights) return models;
      const m = drafted.get(d);
      if (m === undefined) throw new RangeError(`no drafters loaded at ${d} (request.drafters)`);
      return m;
    },
    close: () => {
      singleParts?.close?.();
      for (const p of extra.values()) p.close?.();
      parts.close?.();
    },
  };
}
