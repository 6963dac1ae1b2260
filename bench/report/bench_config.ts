/**
 * What one benchmark run is: a decoder configuration ({@linkcode BenchConfig}),
 * the prompts it runs on and the models it runs with, and its label.
 *
 * @module
 */

import type { FeatureDrafter, LanguageModel, PredictionHeads, TextTokenizer } from "../../mod.ts";
import { settingLabel } from "./draft_settings.ts";
import type { BenchMethod, BenchSchedule, Precision, PromptKind } from "./results.ts";

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
  /** K (speculative, lookup; EAGLE: the chain length). */
  k?: number;
  /** Medusa tree nodes; EAGLE: draft nodes of its dynamic tree (absent: a chain of `k`). */
  tree?: number;
  /**
   * Weight precision of the drafter (draft model, Medusa heads, EAGLE head) when it differs from
   * the target's; absent: the target's.
   */
  drafterWeights?: Precision;
  /**
   * Prompt-lookup branch of draft-target, Medusa or EAGLE: most tokens copied from the context
   * per step (the decoders' `lookupTokens`); absent: none.
   */
  lookup?: number;
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
  /** EAGLE head of the target, if any. */
  eagle?: FeatureDrafter;
  /** Shared tokenizer. */
  tokenizer: TextTokenizer;
}

/**
 * Human-readable label of a configuration.
 *
 * @param c The configuration.
 * @returns E.g. `draft-target K=3`, `medusa 8 T=1`, `eagle chain K=4`,
 *   `draft-target K=6 q8 drafter + lookup 8`.
 */
export function configLabel(c: BenchConfig): string {
  const t = (c.temperature > 0 ? ` T=${c.temperature}` : "") +
    (c.drafterWeights !== undefined ? ` ${c.drafterWeights} drafter` : "") +
    ((c.lookup ?? 0) > 0 ? ` + lookup ${c.lookup}` : "");
  if (c.method === "speculative") return `draft-target ${settingLabel(c)}${t}`;
  if (c.method === "lookup") return `lookup K=${c.k}${t}`;
  if (c.method === "medusa") return `medusa ${c.tree}${t}`;
  if (c.method === "eagle") {
    return `eagle ${c.tree !== undefined && c.tree > 0 ? `tree ${c.tree}` : `chain K=${c.k}`}${t}`;
  }
  return `autoregressive${t}`;
}
