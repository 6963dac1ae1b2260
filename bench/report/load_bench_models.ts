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
  /** Weight precision of every model (heads follow the target). */
  weights: Precision;
  /** Setting of autoregressive decoding and prompt lookup (one session). */
  single: RuntimeSetting;
  /** Setting of draft-target, Medusa and EAGLE (two sessions alternating). */
  dual: RuntimeSetting;
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
  const parts = await loadModelParts({
    model: request.target,
    draft: request.draft,
    ...(request.medusa !== undefined ? { medusa: request.medusa } : {}),
    ...(request.eagle !== undefined ? { eagle: request.eagle } : {}),
    ...request.dual,
    ...w,
  }, stage);
  // Same target settings: the dual setting's draftThreads only changes the draft and the heads.
  const same = request.single.threads === request.dual.threads &&
    request.single.spinning === request.dual.spinning;
  const singleParts = same
    ? undefined
    : await loadModelParts({ model: request.target, ...request.single, ...w }, stage).catch(
      (err) => {
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
  return {
    models,
    modelsFor: (c) => (c.method === "ar" || c.method === "lookup" ? single : models),
    close: () => {
      singleParts?.close?.();
      parts.close?.();
    },
  };
}
